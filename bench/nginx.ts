import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freePort } from '../controlplane/process.ts';

// The nginx baseline of the gateway benchmarks (bench/gateway.ts, bench/gateway-ab.ts).

export function which(name: string, extra: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extra]) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${port}`);
}

/** nginx proxy_pass to the upstream (1 worker, upstream keep-alive), or undefined when nginx is not installed. */
export async function startNginx(
  upstreamPort: number,
  tmp: string,
  children: ChildProcess[],
): Promise<{ port: number; pid: number } | undefined> {
  const nginx = which('nginx', ['/usr/sbin', '/usr/local/sbin']);
  if (nginx === undefined) return undefined;
  const port = await freePort();
  const conf = join(tmp, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${tmp}/nginx.pid;
error_log ${tmp}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fcgi; uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`,
  );
  const p = spawn(nginx, ['-p', tmp, '-c', conf], { stdio: 'inherit' });
  children.push(p);
  await waitListening(port);
  return { port, pid: p.pid! };
}
