/** `fn` that runs the first time it is called and does nothing after (a release, a close). */
export function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
