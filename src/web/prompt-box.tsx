import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { describeProblem, type Problem } from './errors.ts';
import { useTRPC } from './trpc.ts';

/** A newly created key, shown in full once. */
function CreatedKey({ name, keyText }: { name: string; keyText: string }) {
  return (
    <p role="status" className="ok">
      Created API key <strong>{name}</strong>; jobs are now billed to it. Its full value, shown only this once, for
      other clients: <code className="secret">{keyText}</code>
    </p>
  );
}

/** Offer to create an API key when a submit had none to bill. */
function CreateKeyOffer({ onCreated }: { onCreated: (key: { name: string; key: string }) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const create = useMutation(
    trpc.token.create.mutationOptions({
      onSuccess: (key) => {
        void queryClient.invalidateQueries({ queryKey: trpc.token.list.pathKey() });
        onCreated(key);
      },
    }),
  );
  return (
    <div className="offer">
      <button
        type="button"
        onClick={() => create.mutate({ name: 'dashboard', unlimited_quota: true })}
        disabled={create.isPending}
      >
        Create an API key
      </button>
      {create.error && (
        <p className="error" role="alert">
          {describeProblem(create.error).text}
        </p>
      )}
    </div>
  );
}

/**
 * Where a submit had no key to bill: while `offer` holds, the button that creates one; then the new
 * key, shown in full once.
 */
export function KeyOffer({ offer, onCreated }: { offer: boolean; onCreated: () => void }) {
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  return (
    <>
      {offer && (
        <CreateKeyOffer
          onCreated={(key) => {
            onCreated();
            setCreated(key);
          }}
        />
      )}
      {created && <CreatedKey name={created.name} keyText={created.key} />}
    </>
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
  const submit = useMutation(
    trpc.mj.submit.mutationOptions({
      onSuccess: () => {
        setPrompt('');
        setProblem(null);
        void queryClient.invalidateQueries({ queryKey: trpc.mj.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.user.self.pathKey() });
      },
      onError: (err) => setProblem(describeProblem(err)),
    }),
  );

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
        <textarea
          id="prompt"
          rows={2}
          maxLength={8192}
          value={prompt}
          placeholder="a lighthouse at dawn, watercolor"
          onChange={(e) => setPrompt(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send(e);
          }}
        />
        <button type="submit" className="primary" disabled={submit.isPending}>
          {submit.isPending ? 'Sending…' : 'Imagine'}
        </button>
      </div>
      {usable.length > 1 && (
        <div className="field-inline">
          <label htmlFor={keyFieldId}>API key</label>
          <select id={keyFieldId} value={tokenId} onChange={(e) => setTokenId(e.target.value)}>
            <option value="">Newest usable key</option>
            {usable.map((k) => (
              <option key={k.id} value={k.id}>
                {k.name} ({k.key})
              </option>
            ))}
          </select>
        </div>
      )}
      {submit.data && !problem && (
        <p className="ok" role="status">
          Submitted task {submit.data.mj_id}. It appears below and updates live.
        </p>
      )}
      {problem && (
        <p className="error" role="alert">
          {problem.text}
        </p>
      )}
      {keys.isSuccess && usable.length === 0 && !problem && (
        <p className="muted">Jobs are billed to one of your API keys, and you have none yet.</p>
      )}
      <KeyOffer
        offer={!!problem?.noKey || (keys.isSuccess && usable.length === 0)}
        onCreated={() => setProblem(null)}
      />
    </form>
  );
}
