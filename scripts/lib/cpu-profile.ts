// V8 CPU profiles (`node --cpu-prof`, as PROFILE_API / PROFILE_WORKERS write them): self time by
// package, from the first sample inside a function of a given source file to the end.

type CallFrame = { functionName: string; url: string };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
export type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

/** Where a frame's code lives: an npm package, a Node module, a file of ours, or V8's own label. */
export function packageOf(frame: CallFrame): string {
  const url = frame.url;
  const i = url.lastIndexOf('node_modules/');
  if (i >= 0) {
    const parts = url.slice(i + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  if (url) return url.replace(/^file:\/\//, '').replace(/^.*?\/(api|workers|shared|scripts)\//, '$1/');
  return frame.functionName; // (garbage collector), (program), natives
}

/**
 * Busy and idle microseconds, and busy time by package, from the first sample whose stack holds a
 * named function of a file whose path contains `from` (all samples when `from` is empty).
 */
export function selfByPackage(
  p: CpuProfile,
  from = '',
): { busyUs: number; idleUs: number; byPackage: Map<string, number> } {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inside = new Map<number, boolean>();
  const isInside = (id: number): boolean => {
    let v = inside.get(id);
    if (v === undefined) {
      const f = nodes.get(id)!.callFrame;
      const up = parent.get(id);
      v = (f.functionName !== '' && f.url.includes(from)) || (up !== undefined && isInside(up));
      inside.set(id, v);
    }
    return v;
  };
  const start = from ? p.samples.findIndex((id) => isInside(id)) : 0;
  const byPackage = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  if (start < 0) return { busyUs, idleUs, byPackage };
  for (let i = start; i < p.samples.length; i++) {
    // A sample's time is the delta to the next one.
    const us = p.timeDeltas[i + 1] ?? 0;
    const frame = nodes.get(p.samples[i]!)!.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const pkg = packageOf(frame);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  return { busyUs, idleUs, byPackage };
}
