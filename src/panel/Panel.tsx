import React from 'react';

import { ReactWidget } from '@jupyterlab/ui-components';

import { ICluster, MLOpsApi } from '../api';
import { ClusterSection, IClusterDefaults } from './ClusterSection';
import { EmptyState, Section } from './Section';

export interface IPanelOptions {
  api: MLOpsApi;
  defaults: IClusterDefaults;
  runMagic: (magic: string) => Promise<boolean>;
  onClusterChanged: (cluster: ICluster | null) => void;
}

/** The stages still to come say what will appear, and show nothing they do not have. */
const COMING: { title: string; text: string }[] = [
  {
    title: 'Data',
    text: 'Profiles of your data (%eda) will be listed here. Profiling is not built yet in this release.'
  },
  {
    title: 'Experiments',
    text: 'Experiments, runs and registered models (%%train, %review) will be listed here. Tracked training is not built yet in this release.'
  },
  {
    title: 'Jobs',
    text: 'Notebooks turned into scheduled or triggered jobs (%job) will be listed here. Jobs are not built yet in this release.'
  },
  {
    title: 'Deployments',
    text: 'Models served on port 8000 (%deploy) will be listed here. Serving is not built yet in this release.'
  },
  {
    title: 'Monitoring',
    text: 'Drift and performance of deployments (%monitor) will be shown here. Monitoring is not built yet in this release.'
  }
];

export class MLOpsPanel extends ReactWidget {
  constructor(private readonly options: IPanelOptions) {
    super();
    this.id = 'mlops-panel';
    this.addClass('mlops-Panel');
  }

  render(): JSX.Element {
    return (
      <>
        <div className="mlops-Panel-header">MLOps</div>
        <ClusterSection {...this.options} />
        {COMING.map(stage => (
          <Section key={stage.title} title={stage.title} badge="not built yet" initiallyOpen={false}>
            <EmptyState>{stage.text}</EmptyState>
          </Section>
        ))}
      </>
    );
  }
}
