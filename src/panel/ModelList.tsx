import React, { useState } from 'react';

import { IRegisteredModel } from '../api';
import { count } from '../format';
import { fullTime, when } from '../time';
import { EmptyState } from './Section';

/** How many versions of a model are listed before "older versions". */
const VERSIONS_SHOWN = 3;

function AliasChip(props: { alias: string }): JSX.Element {
  const known = ['champion', 'challenger', 'previous'].includes(props.alias) ? props.alias : 'other';
  return (
    <span className={`mlops-Alias mlops-Alias-${known}`} data-alias={props.alias}>
      {props.alias}
    </span>
  );
}

function ModelItem(props: { model: IRegisteredModel }): JSX.Element {
  const { model } = props;
  const [all, setAll] = useState(false);
  // Versions with an alias are always listed; the others up to VERSIONS_SHOWN in all, unless asked.
  const shown = all
    ? model.versions
    : model.versions.filter((v, index) => v.aliases.length > 0 || index < VERSIONS_SHOWN);
  const hidden = model.versions.length - shown.length;
  return (
    <li className="mlops-Model" data-model={model.name}>
      <div className="mlops-Model-head">
        <span className="mlops-Model-name">{model.name}</span>
        <span className="mlops-Model-count">{count(model.versions.length, 'version')}</span>
      </div>
      <ul className="mlops-Model-versions" aria-label={`Versions of ${model.name}`}>
        {shown.map(version => (
          <li
            key={version.version}
            className="mlops-ModelVersion"
            data-version={version.version}
            title={`${model.name} v${version.version} · run ${version.run_id} · ${version.status.toLowerCase()}\nregistered ${fullTime(version.created)}`}
          >
            <span className="mlops-ModelVersion-number">v{version.version}</span>
            <span className="mlops-ModelVersion-aliases">
              {version.aliases.map(alias => (
                <AliasChip key={alias} alias={alias} />
              ))}
            </span>
            <span className="mlops-ModelVersion-time">{when(version.created)}</span>
          </li>
        ))}
      </ul>
      {hidden > 0 || all ? (
        <button className="mlops-Link" onClick={() => setAll(!all)}>
          {all ? 'fewer versions' : `${count(hidden, 'older version')}`}
        </button>
      ) : null}
    </li>
  );
}

/** The registered models, each with its newest versions and their aliases (champion, challenger, previous). */
export function ModelList(props: { models: IRegisteredModel[] }): JSX.Element {
  return (
    <div className="mlops-Models">
      <div className="mlops-Subheading">Registered models</div>
      {props.models.length === 0 ? (
        <EmptyState>
          No registered models yet: <code>%%train --model NAME</code> registers one as the challenger.
        </EmptyState>
      ) : (
        <ul className="mlops-ModelList" aria-label="Registered models">
          {props.models.map(model => (
            <ModelItem key={model.name} model={model} />
          ))}
        </ul>
      )}
    </div>
  );
}
