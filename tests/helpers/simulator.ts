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
