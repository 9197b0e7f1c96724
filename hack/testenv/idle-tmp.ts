import { readFile } from 'node:fs/promises';
import { ControlPlane, removeTempDirs, startOperator, startSidecar } from '@gco/testenv';
import { residentTogether } from './src/resident-together.ts';

const mem = async (pid: number | undefined) => {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const f = (n: string) => Number(new RegExp(`${n}:\\s+(\\d+)`).exec(s)?.[1]) / 1024;
  return `rss ${f('VmRSS').toFixed(1)} anon ${f('RssAnon').toFixed(1)} file ${f('RssFile').toFixed(1)}`;
};
const plane = await ControlPlane.start();
try {
  const NODE_OPTIONS = process.env.OPTS ?? '--max-semi-space-size=1';
  const extra = JSON.parse(process.env.EXTRA_ENV ?? '{}');
  const sidecar = await startSidecar({ args: ['--log-level=warn'], env: { NODE_OPTIONS, ...extra } });
  const op = await startOperator(plane, {
    sidecarSocket: sidecar.socketPath,
    args: ['--log-level=info', '--namespaces=x'],
    env: { NODE_OPTIONS, ...extra },
  });
  await new Promise((r) => setTimeout(r, 20000));
  const t = await residentTogether([op.process.child.pid!, sidecar.process.child.pid!]);
  console.log(
    `${NODE_OPTIONS} ${process.env.EXTRA_ENV ?? ''} :: operator ${await mem(op.process.child.pid)} | sidecar ${await mem(sidecar.process.child.pid)} | together ${t.mb.toFixed(1)}`,
  );
  await op.stop();
  await sidecar.stop();
} finally {
  await plane.stop();
  await removeTempDirs();
}
process.exit(0);
