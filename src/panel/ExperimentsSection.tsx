import React, { useRef, useState } from 'react';

import { IExperiment, IMlflowUi, IRegisteredModel, IRun, MLOpsApi } from '../api';
import { type HigherIsBetter, higherIsBetterFrom } from '../direction';
import { count } from '../format';
import { MlflowUiLauncher } from '../mlflow';
import { chooseExperiment } from '../runs';
import { CompareActions, CompareView, useRunComparison } from './CompareView';
import { MlflowUiActions } from './MlflowUiActions';
import { ModelList } from './ModelList';
import { listBadge, Polled } from './Polled';
import { RunsTable } from './RunsTable';
import { Section } from './Section';
import { usePolled } from './usePolled';

export interface IExperimentsSectionProps {
  api: MLOpsApi;
  pollInterval: number;
  /** Starts the MLflow UI and opens its tab (shared with the palette's command). */
  mlflowUi: MlflowUiLauncher;
}

/** What the section polls for: the experiments, and which metrics are better large (asked once). */
interface IExperimentsListing {
  experiments: IExperiment[];
  higher: HigherIsBetter;
}

function ExperimentPicker(props: {
  experiments: IExperiment[];
  selected: string | null;
  pick: (id: string) => void;
}): JSX.Element {
  return (
    <div className="mlops-ExperimentPicker">
      <label htmlFor="mlops-experiment">Experiment</label>
      <select
        id="mlops-experiment"
        className="mlops-Select"
        value={props.selected ?? ''}
        onChange={e => props.pick(e.target.value)}
      >
        {props.experiments.map(e => (
          <option key={e.id} value={e.id}>
            {e.name} ({count(e.runs, 'run')})
          </option>
        ))}
      </select>
    </div>
  );
}

export function ExperimentsSection(props: IExperimentsSectionProps): JSX.Element {
  const { api, pollInterval, mlflowUi } = props;
  const [selected, setSelected] = useState<string | null>(null);
  const [runs, setRuns] = useState<{ experiment: string; runs: IRun[] } | null>(null);
  const [models, setModels] = useState<IRegisteredModel[] | null>(null);
  const comparison = useRunComparison(api);
  // The poll reads these between renders.
  const selectedRef = useRef<string | null>(null);
  const pickedByUser = useRef(false);
  const open = useRef(false);
  const higher = useRef<HigherIsBetter | null>(null);

  // A closed section only counts the experiments (for its badge); an open one also lists the runs, the
  // models and the MLflow UI.
  const listing = usePolled<IExperimentsListing>(
    'mlops:experiments',
    pollInterval,
    async () => {
      const [experiments, directions] = await Promise.all([
        api.experiments(),
        higher.current ?? api.status().then(higherIsBetterFrom)
      ]);
      higher.current = directions;
      const chosen = chooseExperiment(experiments, selectedRef.current, pickedByUser.current);
      if (chosen !== selectedRef.current) {
        selectedRef.current = chosen;
        setSelected(chosen);
      }
      if (open.current) {
        const [listed, registered, status] = await Promise.all([
          chosen ? api.experimentRuns(chosen) : Promise.resolve([]),
          api.models(),
          api.mlflowUi().catch((): IMlflowUi | null => null)
        ]);
        // The pick may have changed while the runs were asked for: keep them only for theirs.
        if (chosen && chosen === selectedRef.current) {
          setRuns({ experiment: chosen, runs: listed });
        }
        setModels(registered);
        if (status) {
          mlflowUi.observe(status);
        }
      }
      return { experiments, higher: directions };
    },
    [api, mlflowUi],
    'The experiments could not be listed'
  );

  const onToggle = (isOpen: boolean): void => {
    const opened = isOpen && !open.current;
    open.current = isOpen;
    if (opened) {
      listing.refresh();
    }
  };

  const pickExperiment = (id: string): void => {
    pickedByUser.current = true;
    selectedRef.current = id;
    setSelected(id);
    listing.refresh();
  };

  const shownRuns = runs && runs.experiment === selected ? runs.runs : null;
  const experiments = listing.data?.experiments;

  return (
    <Section
      title="Experiments"
      badge={listBadge(experiments, 'experiment')}
      initiallyOpen={false}
      onToggle={onToggle}
    >
      <MlflowUiActions mlflowUi={mlflowUi} />
      <Polled
        polled={listing}
        isEmpty={data => data.experiments.length === 0}
        empty={
          <>
            No runs yet: run <code>%%train</code> in a notebook, on the first line of the cell that fits a model.
          </>
        }
      >
        {data => {
          const experiment = data.experiments.find(e => e.id === selected) ?? null;
          return (
            <>
              <ExperimentPicker experiments={data.experiments} selected={selected} pick={pickExperiment} />
              {experiment ? (
                <Polled
                  polled={{ data: shownRuns, error: null }}
                  loading={<div className="mlops-Busy">Listing the runs…</div>}
                  empty={
                    <>
                      No runs in {experiment.name} yet: run <code>%%train</code> in its notebook.
                    </>
                  }
                >
                  {list => (
                    <>
                      <RunsTable
                        experiment={experiment}
                        runs={list}
                        higher={data.higher}
                        picked={comparison.picked.map(p => p.id)}
                        onPick={comparison.pick}
                      />
                      <CompareActions runs={comparison} />
                    </>
                  )}
                </Polled>
              ) : null}
              <CompareView comparison={comparison.comparison} higher={data.higher} close={comparison.close} />
            </>
          );
        }}
      </Polled>
      {/* Nothing tracked, nothing registered: the one empty state above says it. */}
      {experiments && models !== null && (experiments.length || models.length) ? <ModelList models={models} /> : null}
    </Section>
  );
}
