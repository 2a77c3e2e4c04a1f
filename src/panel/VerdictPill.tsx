import React from 'react';

import { verdictTone } from '../monitors';

/** A verdict, coloured by how it reads: red drift/decay/error, amber schema change, green no drift, grey no data. */
export function VerdictPill(props: {
  verdict: string | null | undefined;
  testId?: string;
  title?: string;
}): JSX.Element {
  const verdict = props.verdict ?? 'not checked';
  return (
    <span
      className={`mlops-Pill mlops-Verdict mlops-Verdict-${verdictTone(props.verdict)}`}
      data-testid={props.testId}
      data-verdict={verdict}
      title={props.title}
    >
      {verdict}
    </span>
  );
}
