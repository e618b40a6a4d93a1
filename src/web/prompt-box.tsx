import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { describeProblem, type Problem } from './errors.ts';
import { useTRPC } from './trpc.ts';

/** Offer to create an API key when a submit had none to bill. */
export function CreateKeyOffer({ onCreated }: { onCreated?: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const create = useMutation(trpc.token.create.mutationOptions({
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: trpc.token.list.pathKey() });
      onCreated?.();
    },
  }));
  return (
    <div className="offer">
      {create.data ? (
        <p role="status">
          Created API key <strong>{create.data.name}</strong>. Its full value, shown only now, for other clients:{' '}
          <code className="secret">{create.data.key}</code>
        </p>
      ) : (
        <button type="button" onClick={() => create.mutate({ name: 'dashboard', unlimited_quota: true })} disabled={create.isPending}>
          Create an API key
        </button>
      )}
      {create.error && <p className="error" role="alert">{describeProblem(create.error).text}</p>}
    </div>
  );
}

/** The prompt box: an IMAGINE through `mj.submit`, billed to the chosen (or newest) API key. */
export function PromptBox() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const keyFieldId = useId();
  const [prompt, setPrompt] = useState('');
  const [tokenId, setTokenId] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const keys = useQuery(trpc.token.list.queryOptions({ page_size: 100 }));
  const usable = (keys.data?.items ?? []).filter((k) => k.status === 1);
  const submit = useMutation(trpc.mj.submit.mutationOptions({
    onSuccess: () => {
      setPrompt('');
      setProblem(null);
      void queryClient.invalidateQueries({ queryKey: trpc.mj.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.user.self.pathKey() });
    },
    onError: (err) => setProblem(describeProblem(err)),
  }));

  function send(e: FormEvent) {
    e.preventDefault();
    const text = prompt.trim();
    if (!text) return setProblem({ text: 'Describe the picture you want first.' });
    submit.mutate({ action: 'IMAGINE', prompt: text, ...(tokenId ? { token_id: Number(tokenId) } : {}) });
  }

  return (
    <form className="card prompt-box" onSubmit={send}>
      <label htmlFor="prompt">Prompt</label>
      <div className="prompt-row">
        <textarea id="prompt" rows={2} maxLength={8192} value={prompt} placeholder="a lighthouse at dawn, watercolor"
          onChange={(e) => setPrompt(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e);
          }} />
        <button type="submit" className="primary" disabled={submit.isPending}>{submit.isPending ? 'Sending…' : 'Imagine'}</button>
      </div>
      {usable.length > 1 && (
        <div className="field-inline">
          <label htmlFor={keyFieldId}>API key</label>
          <select id={keyFieldId} value={tokenId} onChange={(e) => setTokenId(e.target.value)}>
            <option value="">Newest usable key</option>
            {usable.map((k) => <option key={k.id} value={k.id}>{k.name} ({k.key})</option>)}
          </select>
        </div>
      )}
      {submit.data && !problem && (
        <p className="ok" role="status">Submitted task {submit.data.mj_id}. It appears below and updates live.</p>
      )}
      {problem && <p className="error" role="alert">{problem.text}</p>}
      {keys.isSuccess && usable.length === 0 && !problem && (
        <p className="muted">Jobs are billed to one of your API keys, and you have none yet.</p>
      )}
      {(problem?.noKey || (keys.isSuccess && usable.length === 0)) && (
        <CreateKeyOffer onCreated={() => setProblem(null)} />
      )}
    </form>
  );
}
