import type { Simulator } from '../../src/simulator/index.ts';

/** Submit an imagine straight to the simulator (as an upstream client would); returns its task id. */
export async function submitToSimulator(sim: Simulator, secret: string, prompt: string): Promise<string> {
  const res = await fetch(`${sim.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'mj-api-secret': secret },
    body: JSON.stringify({ prompt }),
  });
  const vo = (await res.json()) as { code: number; result: unknown };
  if (vo.code !== 1 || typeof vo.result !== 'string')
    throw new Error(`simulator refused the submit: ${JSON.stringify(vo)}`);
  return vo.result;
}

/**
 * A finished imagine on a simulator driven by `clock`: submitted, the clock moved past its whole
 * run, read back; returns its final 2×2 grid's URL (throws unless it ended SUCCESS).
 */
export async function finishedImageUrl(
  sim: Simulator,
  secret: string,
  clock: { advance(ms: number): void },
  prompt: string,
): Promise<string> {
  const id = await submitToSimulator(sim, secret, prompt);
  clock.advance(12_000);
  const res = await fetch(`${sim.url}/mj/task/${id}/fetch`, { headers: { 'mj-api-secret': secret } });
  const view = (await res.json()) as { status: string; imageUrl: string };
  if (view.status !== 'SUCCESS') throw new Error(`simulator task ${id} is ${view.status}, not SUCCESS`);
  return view.imageUrl;
}
