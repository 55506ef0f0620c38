// Decisions as chains of small named policies (docs/design.md §5). A policy looks at what the reconcile
// knows and either decides (returns a value) or passes (undefined); a chain asks its policies in order
// and the first decision wins, so the order of a chain IS the precedence of its rules.

export type Policy<In, Out> = (input: In) => Out | undefined;

/** The first decision of the chain, or undefined when every policy passed. */
export function firstDecision<In, Out>(chain: readonly Policy<In, Out>[], input: In): Out | undefined {
  for (const policy of chain) {
    const decision = policy(input);
    if (decision !== undefined) return decision;
  }
  return undefined;
}
