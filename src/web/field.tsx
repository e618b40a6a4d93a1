import type { InputHTMLAttributes } from 'react';

/** A label and its input, which reports the typed text (`id` ties the two). */
export function LabeledInput({
  label,
  onValue,
  ...input
}: { id: string; label: string; value: string; onValue: (value: string) => void } & Omit<
  InputHTMLAttributes<HTMLInputElement>,
  'onChange'
>) {
  return (
    <>
      <label htmlFor={input.id}>{label}</label>
      <input {...input} onChange={(e) => onValue(e.target.value)} />
    </>
  );
}
