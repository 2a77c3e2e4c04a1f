import React, { useEffect, useRef, useState } from 'react';

import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';

export interface ISectionProps {
  title: string;
  badge?: string;
  initiallyOpen?: boolean;
  /** Each new (non-zero) value opens the section and scrolls it into view. */
  revealRequest?: number;
  /** Told whether the section is open: at first, and on every change. */
  onToggle?: (open: boolean) => void;
  children: React.ReactNode;
}

/** A collapsible section of the panel. */
export function Section(props: ISectionProps): JSX.Element {
  const [open, setOpen] = useState(props.initiallyOpen ?? true);
  const Caret = open ? caretDownIcon : caretRightIcon;
  const id = `mlops-section-${props.title.toLowerCase()}`;
  const node = useRef<HTMLElement>(null);
  useEffect(() => {
    if (props.revealRequest) {
      setOpen(true);
      node.current?.scrollIntoView({ block: 'nearest' });
    }
  }, [props.revealRequest]);
  useEffect(() => {
    props.onToggle?.(open);
  }, [open]);
  return (
    <section className="mlops-Section" data-section={props.title} ref={node}>
      <button
        className="mlops-Section-title"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen(!open)}
      >
        <Caret.react tag="span" />
        {props.title}
        {props.badge ? <span className="mlops-Section-badge">{props.badge}</span> : null}
      </button>
      {open ? (
        <div className="mlops-Section-body" id={id}>
          {props.children}
        </div>
      ) : null}
    </section>
  );
}

/** What a section shows before its stage exists: what will appear here, and nothing fake. */
export function EmptyState(props: { children: React.ReactNode }): JSX.Element {
  return <div className="mlops-Empty">{props.children}</div>;
}
