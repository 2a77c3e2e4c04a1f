import React from 'react';

import { ReactWidget } from '@jupyterlab/ui-components';

import { ICluster, IProfileSummary, MLOpsApi, ProfileReportKind } from '../api';
import { MlflowUiLauncher } from '../mlflow';
import { DataFrameListing } from '../notebook';
import { ClusterSection, IClusterDefaults } from './ClusterSection';
import { DataSection } from './DataSection';
import { DeploymentsSection } from './DeploymentsSection';
import { ExperimentsSection } from './ExperimentsSection';
import { JobsSection } from './JobsSection';
import { MonitorsSection } from './MonitorsSection';

export interface IPanelOptions {
  api: MLOpsApi;
  defaults: IClusterDefaults;
  runMagic: (magic: string) => Promise<boolean>;
  onClusterChanged: (cluster: ICluster | null) => void;
  /** The DataFrames of the active notebook's kernel (the Data section's "Profile a DataFrame"). */
  listDataFrames: () => Promise<DataFrameListing>;
  /** Open a profile's saved report in a main-area tab. */
  openReport: (profile: IProfileSummary, which: ProfileReportKind) => void;
  /** Insert code as a new cell below the active cell of the current notebook, not run (the Data section's prep). */
  insertCode: (code: string) => boolean;
  /** The current notebook's name, or null when none is open; call {@link MLOpsPanel.update} when it changes. */
  currentNotebook: () => string | null;
  /** Starts the MLflow UI and opens it in a main-area tab. */
  mlflowUi: MlflowUiLauncher;
  /** The New job dialog on the active notebook (the Jobs section's "New job"). */
  newJob: () => Promise<void>;
  /** Open a notebook in a main-area tab (a job run's executed notebook). */
  openNotebook: (path: string) => void;
}

export class MLOpsPanel extends ReactWidget {
  constructor(private readonly options: IPanelOptions) {
    super();
    this.id = 'mlops-panel';
    this.addClass('mlops-Panel');
  }

  /** Open the Data section and bring it into view. */
  showProfiles(): void {
    this.revealRequest += 1;
    this.update();
  }

  /** Open the Jobs section and bring it into view, with the job `name` open. */
  showJobs(name: string | null = null): void {
    this.jobsRequest += 1;
    this.jobToShow = name;
    this.update();
  }

  /** Open the Data section and list the active notebook's DataFrames to profile. */
  pickDataFrame(): void {
    this.pickRequest += 1;
    this.update();
  }

  render(): JSX.Element {
    return (
      <>
        <div className="mlops-Panel-header">MLOps</div>
        <ClusterSection {...this.options} />
        <DataSection
          api={this.options.api}
          pollInterval={this.options.defaults.pollInterval}
          runMagic={this.options.runMagic}
          listDataFrames={this.options.listDataFrames}
          openReport={this.options.openReport}
          insertCode={this.options.insertCode}
          notebook={this.options.currentNotebook()}
          revealRequest={this.revealRequest}
          pickRequest={this.pickRequest}
        />
        <ExperimentsSection
          api={this.options.api}
          pollInterval={this.options.defaults.pollInterval}
          mlflowUi={this.options.mlflowUi}
        />
        <JobsSection
          api={this.options.api}
          pollInterval={this.options.defaults.pollInterval}
          newJob={this.options.newJob}
          openNotebook={this.options.openNotebook}
          revealRequest={this.jobsRequest}
          revealJob={this.jobToShow}
        />
        <DeploymentsSection api={this.options.api} pollInterval={this.options.defaults.pollInterval} />
        <MonitorsSection
          api={this.options.api}
          pollInterval={this.options.defaults.pollInterval}
          showJob={name => this.showJobs(name)}
        />
      </>
    );
  }

  private revealRequest = 0;
  private pickRequest = 0;
  private jobsRequest = 0;
  private jobToShow: string | null = null;
}
