// `keys describe NAME`: everything about one ApiKey except the key itself.
import { openClient } from './client.ts';
import { renderDescribe } from './describe-view.ts';
import { processIo, type Io, type OutputFormat } from './io.ts';
import { renderJsonOne } from './json-view.ts';
import type { KubeFlags } from './kubeconfig.ts';

export interface DescribeOptions extends KubeFlags {
  output?: OutputFormat;
}

export async function runDescribe(name: string, opts: DescribeOptions, io: Io = processIo): Promise<void> {
  const client = openClient(opts);
  const obj = await client.get(client.target.namespace, name);
  io.out(opts.output === 'json' ? renderJsonOne(obj) : renderDescribe(obj, io.now()));
}
