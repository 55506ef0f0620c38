// `keys list`: every ApiKey of a namespace (or all), like the product page's keys page.
import { openClient } from './client.ts';
import { processIo, type Io, type OutputFormat } from './io.ts';
import { renderJsonList } from './json-view.ts';
import type { KubeFlags } from './kubeconfig.ts';
import { renderList } from './list-view.ts';

export interface ListOptions extends KubeFlags {
  allNamespaces?: boolean;
  output?: OutputFormat;
}

export async function runList(opts: ListOptions, io: Io = processIo): Promise<void> {
  const client = openClient(opts);
  const namespace = opts.allNamespaces ? undefined : client.target.namespace;
  const items = namespace === undefined ? await client.list(undefined) : await client.listExisting(namespace);
  if (opts.output === 'json') {
    io.out(renderJsonList(items));
  } else if (items.length === 0) {
    // Like kubectl: the table is empty, the explanation goes to stderr, and that is not an error.
    io.err(
      namespace === undefined
        ? 'No ApiKeys found in any namespace.\n'
        : `No ApiKeys found in namespace "${namespace}".\n`,
    );
  } else {
    io.out(renderList(items, { allNamespaces: namespace === undefined, now: io.now() }));
  }
}
