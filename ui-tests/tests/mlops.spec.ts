/**
 * Browser tests of the MLOps side panel, run by galata in a real JupyterLab with a real workspace controller
 * (MLOPS_HOME points at ui-tests/.ui-root/.mlops) and real Dask clusters.
 *
 * Each test stops the cluster it may have started (afterEach), so the tests do not depend on each other.
 */
import * as fs from 'fs';
import * as path from 'path';

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { APIRequestContext, Locator } from '@playwright/test';
import { PANEL_ID, openPanel, snapshot } from './helpers';

const SECTIONS = ['Cluster', 'Data', 'Experiments', 'Jobs', 'Deployments', 'Monitoring'];
const CLUSTER_URL = '/mlops/api/clusters/default';
const PROFILES_URL = '/mlops/api/profiles';
const EXPERIMENTS_URL = '/mlops/api/experiments';
const MODELS_URL = '/mlops/api/models';
const DEPLOYMENTS_URL = '/mlops/api/deployments';
const MONITORS_URL = '/mlops/api/monitors';
// Cluster start on a 2-core box takes a few seconds; leave plenty of room for a slow CI runner.
const CLUSTER_TIMEOUT = 90 * 1000;
// Written only on request (UPDATE_README_SCREENSHOT=1), never by CI.
const README_SCREENSHOT = path.resolve(__dirname, '..', '..', 'docs', 'panel.png');

/** The panel's Cluster section; its badge reads "none" once the first poll answered. */
function clusterSection(panel: Locator): Locator {
  return panel.locator('section[data-section="Cluster"]');
}

/** The panel's Data section: the saved profiles and the "Profile a DataFrame" button. */
function dataSection(panel: Locator): Locator {
  return panel.locator('section[data-section="Data"]');
}

/** The panel's Experiments section: runs, models and the MLflow UI button (collapsed at first). */
function experimentsSection(panel: Locator): Locator {
  return panel.locator('section[data-section="Experiments"]');
}

/** The panel's Deployments section: what %deploy serves, with a test request, logs, rollback and stop. */
function deploymentsSection(panel: Locator): Locator {
  return panel.locator('section[data-section="Deployments"]');
}

async function startCluster(panel: Locator): Promise<void> {
  const section = clusterSection(panel);
  await expect(section.getByRole('button', { name: 'Start cluster' })).toBeEnabled();
  await section.getByRole('button', { name: 'Start cluster' }).click();
  await expect(section.getByTestId('cluster-status').locator('.mlops-Pill')).toHaveText('running', {
    timeout: CLUSTER_TIMEOUT
  });
}

/** Stop the cluster through the REST route, whatever the panel shows; a missing cluster is fine. */
async function stopClusterQuietly(request: APIRequestContext): Promise<void> {
  await request.delete(CLUSTER_URL, { timeout: CLUSTER_TIMEOUT }).catch(() => undefined);
}

test.use({ autoGoto: true });

test.afterEach(async ({ request }) => {
  await stopClusterQuietly(request);
});

test('the panel opens from its sidebar tab with the six sections, in light and dark themes', async ({
  page
}, testInfo) => {
  const tab = page.sidebar.getTabLocator(PANEL_ID);
  await expect(tab).toHaveAttribute('title', 'MLOps');

  const panel = await openPanel(page);
  await expect(panel.locator('.mlops-Panel-header')).toHaveText('MLOps');
  for (const title of SECTIONS) {
    await expect(panel.getByRole('button', { name: title, exact: false }).first()).toBeVisible();
    await expect(panel.locator(`section[data-section="${title}"]`)).toBeVisible();
  }
  // Monitoring is built: its badge counts the workspace's monitors.
  await expect(panel.locator('section[data-section="Monitoring"] .mlops-Section-badge')).toHaveText(/^(none|\d+ monitors?)/);
  // Jobs is built: its badge counts the workspace's jobs (the jobs test may have left some).
  await expect(panel.locator('section[data-section="Jobs"] .mlops-Section-badge')).toHaveText(/^(none|\d+ jobs?)/);
  // The first poll answered: no cluster yet, so the start form is shown.
  const cluster = clusterSection(panel);
  await expect(cluster.locator('.mlops-Section-badge')).toHaveText('none');
  await expect(cluster.getByLabel('Workers', { exact: true })).toHaveValue('2');
  await expect(cluster.getByRole('button', { name: 'Start cluster' })).toBeVisible();
  await expect(cluster.getByRole('button', { name: 'Start in notebook' })).toBeVisible();

  // The Data section is open and says what it has: no profile in a fresh workspace, else their count.
  const data = dataSection(panel);
  await expect(data.getByRole('button', { name: 'Profile a DataFrame' })).toBeVisible();
  const saved = (await (await page.request.get(PROFILES_URL)).json()) as unknown[];
  if (saved.length === 0) {
    await expect(data.locator('.mlops-Section-badge')).toHaveText('none');
    await expect(data.locator('.mlops-Empty')).toHaveText(
      'No profiles yet: run %eda df in a notebook, or use Profile a DataFrame.'
    );
  } else {
    await expect(data.locator('.mlops-Section-badge')).toHaveText(/^\d+ profiles?$/);
  }

  // The Experiments section is collapsed; its badge counts the experiments (none in a fresh workspace).
  const experiments = experimentsSection(panel);
  const tracked = (await (await page.request.get(EXPERIMENTS_URL)).json()) as unknown[];
  await expect(experiments.locator('.mlops-Section-badge')).toHaveText(
    tracked.length ? /^\d+ experiments?$/ : 'none'
  );
  await expect(panel.locator('#mlops-section-experiments')).toHaveCount(0);
  // Open, it says honestly what it has: nothing tracked yet in a fresh workspace.
  await experiments.getByRole('button', { name: /^Experiments/ }).click();
  await expect(experiments.getByRole('button', { name: 'Open MLflow UI' })).toBeVisible();
  if (tracked.length === 0) {
    await expect(experiments.locator('.mlops-Empty').first()).toContainText('No runs yet: run %%train in a notebook');
    await expect(experiments.locator('.mlops-Models')).toHaveCount(0);
  }

  // The Deployments section is collapsed; open, it says what it has (nothing in a fresh workspace).
  const deployments = deploymentsSection(panel);
  const served = (await (await page.request.get(DEPLOYMENTS_URL)).json()) as unknown[];
  await expect(deployments.locator('.mlops-Section-badge')).toHaveText(served.length ? /^\d+ deployments?/ : 'none');
  await deployments.getByRole('button', { name: /^Deployments/ }).click();
  if (served.length === 0) {
    await expect(deployments.locator('.mlops-Empty')).toHaveText('No deployments: run %deploy MODEL in a notebook.');
  }
  await deployments.getByRole('button', { name: /^Deployments/ }).click();
  await expect(panel.locator('#mlops-section-deployments')).toHaveCount(0);

  // A collapsed section opens on click and says what it has: no monitor in a fresh workspace.
  const monitored = (await (await page.request.get(MONITORS_URL)).json()) as unknown[];
  await panel.getByRole('button', { name: /^Monitoring/ }).click();
  if (monitored.length === 0) {
    await expect(panel.locator('#mlops-section-monitoring .mlops-Empty')).toContainText(
      'No monitors: run %monitor DEPLOYMENT --every 10m in a notebook'
    );
  } else {
    await expect(panel.locator('#mlops-section-monitoring .mlops-MonitorList')).toBeVisible();
  }

  const light = await snapshot(panel, testInfo, 'panel-light.png');
  if (process.env.UPDATE_README_SCREENSHOT === '1') {
    fs.mkdirSync(path.dirname(README_SCREENSHOT), { recursive: true });
    fs.copyFileSync(light, README_SCREENSHOT);
  }

  await page.theme.setDarkTheme();
  expect(await page.theme.getTheme()).toBe('JupyterLab Dark');
  const darkPanel = await openPanel(page);
  await expect(darkPanel.locator('#mlops-section-data')).toBeVisible();
  await snapshot(darkPanel, testInfo, 'panel-dark.png');

  // The palette's "MLOps: Profile a DataFrame" lists the active notebook's frames; with none open it says so.
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('mlops:profile-dataframe'));
  const picker = dataSection(darkPanel).getByTestId('dataframe-picker');
  await expect(picker).toContainText('No notebook is active');
  await picker.getByRole('button', { name: 'Close the DataFrame list' }).click();
  await expect(picker).toHaveCount(0);
});

test('Start cluster starts one; its dashboard answers; Scale and Stop work', async ({
  page
}, testInfo) => {
  const panel = await openPanel(page);
  const section = clusterSection(panel);
  await expect(section.locator('.mlops-Section-badge')).toHaveText('none');

  await startCluster(panel);
  await expect(section.locator('.mlops-Section-badge')).toHaveText('running');
  await expect(section.getByTestId('cluster-workers')).toHaveText('2');

  const link = section.locator('a.mlops-DashboardLink');
  await expect(link).toBeVisible();
  const href = await link.getAttribute('href');
  expect(href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/status$/);
  const dashboard = await page.request.get(href!);
  expect(dashboard.status()).toBe(200);

  await snapshot(panel, testInfo, 'panel-running-light.png');

  const scaleInput = section.getByRole('spinbutton', { name: 'Workers to scale to' });
  await expect(scaleInput).toHaveValue('2');
  await scaleInput.fill('1');
  await section.getByRole('button', { name: 'Scale' }).click();
  await expect(section.getByTestId('cluster-workers')).toHaveText('1', { timeout: CLUSTER_TIMEOUT });
  await expect(section.getByRole('button', { name: 'Scale' })).toBeEnabled();

  await page.theme.setDarkTheme();
  const darkPanel = await openPanel(page);
  await expect(clusterSection(darkPanel).getByTestId('cluster-workers')).toHaveText('1');
  await snapshot(darkPanel, testInfo, 'panel-running-dark.png');

  const darkSection = clusterSection(darkPanel);
  await darkSection.getByRole('button', { name: 'Stop' }).click();
  await expect(darkSection.getByRole('button', { name: 'Start cluster' })).toBeVisible({
    timeout: CLUSTER_TIMEOUT
  });
  await expect(darkSection.getByTestId('cluster-status')).toHaveCount(0);
  await expect(darkSection.locator('.mlops-Section-badge')).toHaveText('none');
  await expect(darkSection.getByLabel('Workers', { exact: true })).toBeVisible();
});

test('Connect notebook inserts %cluster into the notebook and runs it', async ({ page }, testInfo) => {
  const name = await page.notebook.createNew();
  expect(name).toBeTruthy();
  // Wait for the kernel, so the magic runs as soon as it is inserted.
  await expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toHaveCount(1, {
    timeout: 60 * 1000
  });

  const panel = await openPanel(page);
  await startCluster(panel);
  const section = clusterSection(panel);
  await section.getByRole('button', { name: 'Connect notebook' }).click();

  // The click inserts the magic into the last cell (the new notebook's empty one) once the kernel is ready.
  const lastSource = async (): Promise<string> =>
    page.notebook.getCellTextInput((await page.notebook.getCellCount()) - 1);
  await expect.poll(lastSource, { timeout: 60 * 1000 }).toContain('%cluster');
  expect(await lastSource()).toContain('%load_ext mlops_magics');

  const cells = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  const output = cells.last().locator('.jp-OutputArea');
  await expect(output).toContainText("cluster 'default' running", { timeout: 60 * 1000 });
  await snapshot(page.locator('#main'), testInfo, 'notebook-connected.png');

  await section.getByRole('button', { name: 'Stop' }).click();
  await expect(section.getByRole('button', { name: 'Start cluster' })).toBeVisible({
    timeout: CLUSTER_TIMEOUT
  });
});

// A seeded frame with numeric, missing, skewed and categorical columns; a Dask view of it; and names the
// DataFrame list must leave out (private, not a frame).
const MAKE_FRAMES = `import numpy as np
import pandas as pd
import dask.dataframe as dd
rng = np.random.default_rng(42)
n = 1000
df = pd.DataFrame({"age": rng.integers(18, 90, n), "income": rng.normal(52000, 12000, n).round(2), "spend": rng.lognormal(3, 1.2, n).round(2), "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n, p=[0.4, 0.3, 0.2, 0.1])})
df.loc[rng.random(n) < 0.25, "income"] = np.nan
ddf = dd.from_pandas(df, npartitions=3)
_private = df
not_a_frame = [1, 2, 3]
print(df.shape)`;
const COLUMNS = ['age', 'income', 'spend', 'city'];

test('Profile a DataFrame runs %eda on a kernel frame; the profile is listed and opens in a tab', async ({
  page
}, testInfo) => {
  const name = await page.notebook.createNew();
  expect(name).toBeTruthy();
  await expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toHaveCount(1, {
    timeout: 60 * 1000
  });
  // Set the source through the model: typing it would take long and meet the editor's auto-indent.
  await page.evaluate(code => {
    const app = (window as any).jupyterapp;
    app.shell.currentWidget.content.widgets[0].model.sharedModel.setSource(code);
  }, MAKE_FRAMES);
  await page.notebook.runCell(0);
  const cells = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  await expect(cells.first().locator('.jp-OutputArea')).toContainText('(1000, 4)', { timeout: 60 * 1000 });

  const panel = await openPanel(page);
  const data = dataSection(panel);
  await data.getByRole('button', { name: 'Profile a DataFrame' }).click();
  const picker = data.getByTestId('dataframe-picker');
  const frames = picker.getByRole('list', { name: 'DataFrames to profile' }).locator('.mlops-Picker-name');
  await expect(frames).toHaveText(['df', 'ddf']);
  await expect(picker.locator('.mlops-Picker-item', { hasText: 'ddf' })).toContainText('dask · 3 partitions × 4 cols');
  await expect(picker.locator('.mlops-Picker-item').first()).toContainText('pandas · 1,000 rows × 4 cols');
  await snapshot(data, testInfo, 'data-picker-light.png');
  await picker.locator('.mlops-Picker-item').first().click();
  await expect(picker).toHaveCount(0);

  // The click ran the magic in a new cell of the notebook, and its output is the rendered report.
  const lastSource = async (): Promise<string> =>
    page.notebook.getCellTextInput((await page.notebook.getCellCount()) - 1);
  await expect.poll(lastSource, { timeout: 60 * 1000 }).toContain('%eda df');
  expect(await lastSource()).toContain('%load_ext mlops_magics');
  const report = cells.last().locator('.jp-OutputArea .mlops-eda');
  await expect(report).toBeVisible({ timeout: 90 * 1000 });
  await expect(report).toContainText('rows');
  for (const column of COLUMNS) {
    await expect(report).toContainText(column);
  }
  await expect(cells.last().locator('.jp-OutputArea')).toContainText('saved in the workspace');

  // The Data section lists the profile: title, shape, alerts.
  const profiles = (await (await page.request.get(PROFILES_URL)).json()) as {
    id: string;
    title: string;
    alerts: number;
  }[];
  const saved = profiles.find(p => p.title === 'df');
  expect(saved).toBeTruthy();
  const item = data.locator(`.mlops-Profile[data-profile-id="${saved!.id}"]`);
  await expect(item).toBeVisible({ timeout: 30 * 1000 });
  await expect(item.locator('.mlops-Profile-title')).toHaveText('df');
  await expect(item).toContainText('1,000 rows × 4 cols');
  await expect(item.getByTestId('profile-alerts')).toHaveText(
    saved!.alerts ? `${saved!.alerts} alert${saved!.alerts === 1 ? '' : 's'}` : 'no alerts'
  );
  await expect(data.locator('.mlops-Section-badge')).toHaveText(/^\d+ profiles?$/);
  await snapshot(data, testInfo, 'data-section-light.png');

  // A click opens the saved report in a main-area tab, in a sandboxed frame.
  await item.locator('.mlops-Profile-open').click();
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Profile: df' });
  await expect(tab).toHaveCount(1);
  const reportTab = page.locator('.mlops-ReportTab:not(.lm-mod-hidden)');
  const frameElement = reportTab.locator('iframe.mlops-Report-frame');
  await expect(frameElement).toHaveAttribute('sandbox', '');
  const frame = page.frameLocator('.mlops-ReportTab:not(.lm-mod-hidden) iframe.mlops-Report-frame');
  await expect(frame.locator('.mlops-eda')).toBeVisible();
  await expect(frame.locator('.mlops-eda')).toContainText('rows');
  for (const column of COLUMNS) {
    await expect(frame.locator('.mlops-eda')).toContainText(column);
  }
  await snapshot(page.locator('#jp-main-dock-panel'), testInfo, 'report-tab-light.png');

  // Opening it again shows the same tab, not a second one.
  await page.notebook.activate(name!);
  await expect(reportTab).toHaveCount(0);
  await item.locator('.mlops-Profile-open').click();
  await expect(reportTab).toBeVisible();
  await expect(tab).toHaveCount(1);
  await expect(page.locator('.mlops-ReportTab')).toHaveCount(1);

  // In the dark theme the report takes the lab's colours, and the section stays readable.
  await page.theme.setDarkTheme();
  const darkPanel = await openPanel(page);
  const darkData = dataSection(darkPanel);
  await expect(darkData.locator(`.mlops-Profile[data-profile-id="${saved!.id}"]`)).toBeVisible();
  // The pointer left the clicked item for the report's frame, where the lab sees no move: the item would keep
  // its hover look. Pass over the header first, so the picture is of the list at rest.
  await darkPanel.locator('.mlops-Panel-header').hover();
  await snapshot(darkData, testInfo, 'data-section-dark.png');
  const labBackground = await reportTab.locator('.mlops-Report').evaluate(e => getComputedStyle(e).backgroundColor);
  await expect
    .poll(() => frame.locator('html').evaluate(e => getComputedStyle(e).backgroundColor))
    .toBe(labBackground);
  await expect(frame.locator('.mlops-eda')).toContainText('city');
  await expect(frame.locator('.mlops-eda')).toBeVisible();
  await snapshot(page.locator('#jp-main-dock-panel'), testInfo, 'report-tab-dark.png');
});

test('A profile made with --full offers its full report, which opens in a tab of its own', async ({
  page
}, testInfo) => {
  const name = await page.notebook.createNew();
  expect(name).toBeTruthy();
  await expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toHaveCount(1, {
    timeout: 60 * 1000
  });
  await page.evaluate(code => {
    const app = (window as any).jupyterapp;
    app.shell.currentWidget.content.widgets[0].model.sharedModel.setSource(code);
  }, `${MAKE_FRAMES}\n%load_ext mlops_magics\n%eda df --full --title "df full"`);
  await page.notebook.runCell(0);
  const output = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').first().locator('.jp-OutputArea');
  await expect(output).toContainText('saved in the workspace', { timeout: 120 * 1000 });

  // The newest profile of that title (the list is newest first): a rerun in the same workspace adds another.
  const profiles = (await (await page.request.get(PROFILES_URL)).json()) as { id: string; title: string }[];
  const saved = profiles.find(p => p.title === 'df full');
  expect(saved).toBeTruthy();
  const panel = await openPanel(page);
  const item = dataSection(panel).locator(`.mlops-Profile[data-profile-id="${saved!.id}"]`);
  await expect(item).toBeVisible({ timeout: 30 * 1000 });
  await expect(item.locator('.mlops-Profile-title')).toHaveText('df full');
  await expect(item.getByRole('button', { name: 'full', exact: true })).toBeVisible();
  await snapshot(dataSection(panel), testInfo, 'data-section-full-light.png');

  await item.getByRole('button', { name: 'full', exact: true }).click();
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Profile: df full (full)' });
  await expect(tab).toHaveCount(1);
  const frameElement = page.locator('.mlops-ReportTab:not(.lm-mod-hidden) iframe.mlops-Report-frame');
  // Its own scripts may run (its tabs need them), still in an opaque origin: no allow-same-origin.
  await expect(frameElement).toHaveAttribute('sandbox', 'allow-scripts');
  const frame = page.frameLocator('.mlops-ReportTab:not(.lm-mod-hidden) iframe.mlops-Report-frame');
  await expect(frame.locator('#tab-pane-overview-dataset_overview')).toBeVisible({ timeout: 30 * 1000 });
  await expect(frame.locator('body')).toContainText('df full');
  // The report's tabs work: its scripts ran.
  await frame.locator('#tab-overview-alerts').click();
  await expect(frame.locator('#tab-pane-overview-alerts')).toBeVisible();
  await expect(frame.locator('#tab-pane-overview-dataset_overview')).toBeHidden();
  await snapshot(page.locator('#jp-main-dock-panel'), testInfo, 'report-full-tab-light.png');

  // The compact report is another tab; the full one stays open once.
  await item.locator('.mlops-Profile-open').click();
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: /^Profile: df full$/ })).toHaveCount(1);
  // Activating the full tab again changes the layout: the lab saves it (PUT of the workspace) before the reload.
  const layoutSaved = page.waitForRequest(
    request => request.method() === 'PUT' && /\/lab\/api\/workspaces/.test(request.url())
  );
  await item.getByRole('button', { name: 'full', exact: true }).click();
  await expect(tab).toHaveCount(1);
  await expect(page.locator('.mlops-ReportTab')).toHaveCount(2);
  await layoutSaved;

  // Both come back with the layout after a reload.
  // (galata's own readiness check waits for the Launcher to be the active tab: here a report is.)
  await page.reload({ waitForIsReady: false });
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await expect(page.locator('.mlops-ReportTab')).toHaveCount(2, { timeout: 60 * 1000 });
  await expect(tab).toHaveCount(1);
  await expect(frame.locator('#tab-pane-overview-dataset_overview')).toBeVisible({ timeout: 30 * 1000 });
});

interface IExperimentJson {
  id: string;
  name: string;
  runs: number;
}
interface IRunJson {
  id: string;
  name: string;
  parent: string | null;
  metrics: Record<string, number>;
  params: Record<string, string>;
}
interface IModelJson {
  name: string;
  aliases: Record<string, string>;
  versions: { version: string; run_id: string; aliases: string[] }[];
}

// The brief's example: a classifier on scikit-learn's breast cancer data (no download: it ships with sklearn).
const TRAIN_DATA = `from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.linear_model import LogisticRegression
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
print(X_train.shape)`;
const TRAIN_CANCER = `%%train --data X_train,y_train --eval X_test,y_test --model cancer
model = LogisticRegression(max_iter=5000).fit(X_train, y_train)`;
// A small grid search: a second run to compare (another C), with its two trials nested under it.
const TRAIN_SEARCH = `%%train --search grid --space "C=0.01,0.1" --cv 3 --data X_train,y_train --eval X_test,y_test
search_model = LogisticRegression(max_iter=5000)`;
// %%train logs the model and registers it in the background, a second or two after the cell.
const TRACKING_TIMEOUT = 120 * 1000;

/** Put `source` in the notebook's empty last cell, else in a new cell after it, and run it; its output area. */
async function runInNewCell(page: IJupyterLabPageFixture, source: string): Promise<Locator> {
  const index = await page.evaluate(code => {
    const model = (window as any).jupyterapp.shell.currentWidget.content.model;
    const count = model.cells.length;
    const last = count ? model.cells.get(count - 1) : null;
    if (last && last.sharedModel.getSource().trim() === '') {
      last.sharedModel.setSource(code);
      return count - 1;
    }
    model.sharedModel.insertCell(count, { cell_type: 'code', source: code });
    return count;
  }, source);
  await page.notebook.runCell(index);
  return page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').nth(index).locator('.jp-OutputArea');
}

/** The run id a %%train output names (its first 8 characters), and the full run from the REST route. */
async function trainedRun(page: IJupyterLabPageFixture, output: Locator, experiment: IExperimentJson): Promise<IRunJson> {
  const text = (await output.locator('.mlops-train').textContent()) ?? '';
  const short = /run ([0-9a-f]{8}) in experiment/.exec(text)?.[1];
  expect(short, `no run id in the %%train output: ${text}`).toBeTruthy();
  const runs = (await (await page.request.get(`${EXPERIMENTS_URL}/${experiment.id}/runs`)).json()) as IRunJson[];
  const run = runs.find(r => r.id.startsWith(short!));
  expect(run, `run ${short} is not listed in experiment ${experiment.name}`).toBeTruthy();
  return run!;
}

async function idleKernel(page: IJupyterLabPageFixture): Promise<void> {
  await expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toHaveCount(1, {
    timeout: 60 * 1000
  });
}

test('%%train runs are listed with their metrics, sort, nest and compare; models show challenger, then champion', async ({
  page
}, testInfo) => {
  const name = await page.notebook.createNew();
  expect(name).toBeTruthy();
  await idleKernel(page);
  await runInNewCell(page, '%load_ext mlops_magics');
  await expect(await runInNewCell(page, TRAIN_DATA)).toContainText('(426, 30)');
  const trained = await runInNewCell(page, TRAIN_CANCER);
  await expect(trained.locator('.mlops-train')).toContainText('LogisticRegression');

  // The experiment is named after the notebook.
  const stem = name!.replace(/\.ipynb$/, '');
  const experiments = (await (await page.request.get(EXPERIMENTS_URL)).json()) as IExperimentJson[];
  const experiment = experiments.find(e => e.name === stem);
  expect(experiment, `no experiment ${stem} in ${JSON.stringify(experiments)}`).toBeTruthy();
  const run = await trainedRun(page, trained, experiment!);
  expect(Object.keys(run.metrics)).toEqual(expect.arrayContaining(['eval_accuracy', 'eval_f1']));

  // Room for the whole section in the pictures: a taller window, and the sections above it collapsed.
  await page.setViewportSize({ width: 1280, height: 1000 });
  const panel = await openPanel(page);
  await clusterSection(panel).getByRole('button', { name: /^Cluster/ }).click();
  await dataSection(panel).getByRole('button', { name: /^Data/ }).click();
  const section = experimentsSection(panel);
  await section.getByRole('button', { name: /^Experiments/ }).click();
  await section.getByLabel('Experiment', { exact: true }).selectOption(experiment!.id);
  const row = section.locator(`tr[data-run-id="${run.id}"]`);
  await expect(row).toBeVisible();
  await expect(section.locator('thead th[data-metric="eval_accuracy"]')).toBeVisible();
  await expect(section.locator('thead th[data-metric="eval_f1"]')).toBeVisible();
  await expect(section.locator('thead th.mlops-Runs-metric')).toHaveCount(
    Math.min(4, new Set(Object.keys(run.metrics)).size)
  );
  await expect(row.locator('td[data-metric="eval_accuracy"]')).toHaveText(/^0\.9\d*$/);
  await expect(row.locator('td[data-metric="eval_f1"]')).toHaveText(/^0\.9\d*$/);

  // The model is registered in the background, as the challenger.
  let version = '';
  await expect
    .poll(
      async () => {
        const models = (await (await page.request.get(MODELS_URL)).json()) as IModelJson[];
        version = models.find(m => m.name === 'cancer')?.versions.find(v => v.run_id === run.id)?.version ?? '';
        return version;
      },
      { timeout: TRACKING_TIMEOUT }
    )
    .not.toBe('');
  const model = section.locator('li.mlops-Model[data-model="cancer"]');
  const modelVersion = model.locator(`li.mlops-ModelVersion[data-version="${version}"]`);
  await expect(modelVersion.locator('[data-alias="challenger"]')).toHaveText('challenger');
  await expect(modelVersion.locator('[data-alias="champion"]')).toHaveCount(0);

  // A search: a second run, its trials nested under it (logged in the background too).
  const searched = await runInNewCell(page, TRAIN_SEARCH);
  await expect(searched.locator('.mlops-train')).toContainText('LogisticRegression');
  const search = await trainedRun(page, searched, experiment!);
  const searchRow = section.locator(`tr[data-run-id="${search.id}"]`);
  await expect(searchRow).toBeVisible();
  const toggle = searchRow.locator('.mlops-Runs-toggle');
  await expect(toggle).toHaveText('▸2', { timeout: TRACKING_TIMEOUT });
  await expect(section.locator('tr.mlops-Run-trial')).toHaveCount(0);
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(section.locator('tr.mlops-Run-trial')).toHaveCount(2);
  // The trials come right after their search.
  await expect(searchRow.locator('+ tr')).toHaveAttribute('data-depth', '1');
  await expect(searchRow.locator('+ tr + tr')).toHaveAttribute('data-depth', '1');

  // Sorting by a metric: best first, then the other way.
  const header = section.locator('thead th[data-metric="eval_accuracy"]');
  const values = async (): Promise<number[]> =>
    (await section.locator('tbody tr[data-depth="0"] td[data-metric="eval_accuracy"]').evaluateAll(cells =>
      cells.map(cell => cell.getAttribute('data-value') ?? '')
    ))
      .filter(v => v !== '')
      .map(Number);
  await header.getByRole('button').click();
  await expect(header).toHaveAttribute('aria-sort', 'descending');
  const descending = await values();
  expect(descending.length).toBeGreaterThanOrEqual(2);
  expect(descending).toEqual([...descending].sort((a, b) => b - a));
  await header.getByRole('button').click();
  await expect(header).toHaveAttribute('aria-sort', 'ascending');
  const ascending = await values();
  expect(ascending).toEqual([...ascending].sort((a, b) => a - b));

  // Compare the two runs: C differs (the default 1.0 against the search's best, 0.01 or 0.1).
  const compareButton = section.getByRole('button', { name: 'Compare', exact: true });
  await expect(compareButton).toBeDisabled();
  await row.getByRole('checkbox').check();
  await searchRow.getByRole('checkbox').check();
  await expect(compareButton).toBeEnabled();
  await compareButton.click();
  const comparison = section.getByTestId('run-compare');
  const c = comparison.locator('tr[data-param="C"] td');
  await expect(c).toHaveCount(2);
  await expect(c.first()).toHaveText(run.params.C);
  await expect(c.last()).toHaveText(search.params.C);
  expect(run.params.C).not.toBe(search.params.C);
  await expect(comparison.locator('thead th')).toHaveCount(3);
  await snapshot(section, testInfo, 'experiments-light.png');

  // %review promotes the challenger: the version becomes the champion.
  const reviewed = await runInNewCell(page, '%review cancer --data X_test,y_test');
  await expect(reviewed).not.toContainText('Error');
  await expect(modelVersion.locator('[data-alias="champion"]')).toHaveText('champion', { timeout: TRACKING_TIMEOUT });
  const models = (await (await page.request.get(MODELS_URL)).json()) as IModelJson[];
  expect(models.find(m => m.name === 'cancer')?.aliases.champion).toBe(version);
  await snapshot(section, testInfo, 'experiments-reviewed-light.png');

  await page.theme.setDarkTheme();
  const darkPanel = await openPanel(page);
  const darkSection = experimentsSection(darkPanel);
  await expect(darkSection.locator(`li.mlops-ModelVersion[data-version="${version}"] [data-alias="champion"]`)).toBeVisible();
  await darkPanel.locator('.mlops-Panel-header').hover();
  await snapshot(darkSection, testInfo, 'experiments-dark.png');
});

test('"MLOps: Open MLflow UI" starts the MLflow UI and opens it in a tab', async ({ page }, testInfo) => {
  const panel = await openPanel(page);
  const section = experimentsSection(panel);
  await section.getByRole('button', { name: /^Experiments/ }).click();
  const button = section.getByRole('button', { name: /MLflow UI/ });
  await expect(button).toHaveText('Open MLflow UI');
  const before = (await (await page.request.get('/mlops/api/mlflow-ui')).json()) as { status: string };

  // From the command palette.
  await page.keyboard.press('Control+Shift+C');
  const palette = page.locator('#command-palette');
  await palette.locator('.lm-CommandPalette-input').fill('Open MLflow UI');
  await palette.locator('.lm-CommandPalette-item', { hasText: 'MLOps: Open MLflow UI' }).click();
  if (before.status !== 'running') {
    // The start takes seconds: the panel's button says so meanwhile.
    await expect(button).toHaveText('Starting MLflow UI…');
    await expect(button).toBeDisabled();
  }

  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'MLflow' });
  await expect(tab).toHaveCount(1, { timeout: TRACKING_TIMEOUT });
  await expect(button).toHaveText('Open MLflow UI');
  const frameElement = page.locator('.mlops-MlflowTab:not(.lm-mod-hidden) iframe');
  const sandbox = (await frameElement.getAttribute('sandbox')) ?? '';
  expect(sandbox.split(' ')).toEqual(expect.arrayContaining(['allow-scripts', 'allow-same-origin']));
  const url = await frameElement.getAttribute('src');
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/?$/);
  const status = (await (await page.request.get('/mlops/api/mlflow-ui')).json()) as { status: string; url: string };
  expect(status).toMatchObject({ status: 'running', url });
  const answer = await page.request.get(url!);
  expect(answer.status()).toBe(200);
  expect(await answer.text()).toContain('<title>MLflow</title>');

  // The panel links to it for a browser tab of its own, and so does the tab's toolbar.
  await expect(section.locator('a.mlops-ExternalLink')).toHaveAttribute('href', url!);
  await expect(page.locator('.mlops-MlflowTab .jp-Toolbar').getByText('Open in a new browser tab')).toBeVisible();

  // Whether the page renders in the lab's frame is the MLflow server's call (X-Frame-Options).
  const frameOptions = answer.headers()['x-frame-options'];
  if (frameOptions) {
    // Known issue until the server side starts mlflow with `--x-frame-options NONE`: checked then, not before.
    const description = `the MLflow server answers X-Frame-Options: ${frameOptions}, so the browser does not show it inside the lab's tab (another origin); the tab's "Open in a new browser tab" works`;
    testInfo.annotations.push({ type: 'known issue', description });
    console.warn(`known issue: ${description}`);
  } else {
    const frame = page.frameLocator('.mlops-MlflowTab:not(.lm-mod-hidden) iframe');
    await expect(frame.locator('#root')).toContainText('Experiments', { timeout: 60 * 1000 });
  }
  await snapshot(page.locator('#jp-main-dock-panel'), testInfo, 'mlflow-tab-light.png');

  // The panel's button brings the same tab back rather than opening another.
  await page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Launcher' }).click();
  await button.click();
  await expect(page.locator('.mlops-MlflowTab:not(.lm-mod-hidden)')).toBeVisible();
  await expect(tab).toHaveCount(1);
});

// Deployments: a model trained in the notebook, served with %deploy on a port of its own.
const DEPLOY_NAME = 'cancer';
// Not 8000 (the default) nor another common one: the test's deployment must not meet a server already there.
const DEPLOY_PORT = 18123;
const DEPLOY_DATA = `from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
print(X.shape)`;
const DEPLOY_TRAIN = `%%train --data X,y --model cancer
model = LogisticRegression(max_iter=5000).fit(X, y)`;
// Starting a deployment loads the model in a fresh process: seconds, more on a busy box.
const DEPLOY_TIMEOUT = 150 * 1000;

interface IDeploymentJson {
  name: string;
  status: string;
  version: string | null;
  model_uri: string | null;
  previous_model: string | null;
}

test.describe('Deployments', () => {
  // Stop the test's deployment whatever happened, so no scoring server outlives the test.
  test.afterEach(async ({ page }) => {
    await page.request.delete(`${DEPLOYMENTS_URL}/${DEPLOY_NAME}`, { timeout: DEPLOY_TIMEOUT }).catch(() => undefined);
  });

  test('%deploy serves a model: the section lists it, sends a test request, shows logs, rolls back and stops', async ({
    page
  }, testInfo) => {
    test.setTimeout(360 * 1000);
    await page.notebook.createNew();
    await idleKernel(page);
    await runInNewCell(page, '%load_ext mlops_magics');
    await expect(await runInNewCell(page, DEPLOY_DATA)).toContainText('(569, 30)');
    const trained = await runInNewCell(page, DEPLOY_TRAIN);
    await expect(trained.locator('.mlops-train')).toContainText('LogisticRegression');
    const short = /run ([0-9a-f]{8}) in experiment/.exec((await trained.locator('.mlops-train').textContent()) ?? '')?.[1];
    expect(short, 'no run id in the %%train output').toBeTruthy();

    // The model is registered in the background: deploy once this run's version is the challenger.
    let version = '';
    await expect
      .poll(
        async () => {
          const models = (await (await page.request.get(MODELS_URL)).json()) as IModelJson[];
          const found = models
            .find(m => m.name === 'cancer')
            ?.versions.find(v => v.run_id.startsWith(short!) && v.aliases.includes('challenger'));
          version = found?.version ?? '';
          return version;
        },
        { timeout: TRACKING_TIMEOUT }
      )
      .not.toBe('');

    const deployed = await runInNewCell(page, `%deploy cancer@challenger --name ${DEPLOY_NAME} --port ${DEPLOY_PORT}`);
    await expect(deployed).toContainText(`deployment '${DEPLOY_NAME}': healthy`, { timeout: DEPLOY_TIMEOUT });

    // Room for the whole section in the pictures: a taller window, and the sections above it collapsed.
    await page.setViewportSize({ width: 1280, height: 1100 });
    const panel = await openPanel(page);
    await clusterSection(panel).getByRole('button', { name: /^Cluster/ }).click();
    await dataSection(panel).getByRole('button', { name: /^Data/ }).click();
    const section = deploymentsSection(panel);
    await section.getByRole('button', { name: /^Deployments/ }).click();
    await expect(section.locator('.mlops-Section-badge')).toHaveText(/^\d+ deployments?$/);
    const item = section.locator(`li.mlops-Deployment[data-deployment="${DEPLOY_NAME}"]`);
    await expect(item.getByTestId('deployment-status')).toHaveText('healthy');
    await expect(item.locator('.mlops-Deployment-model')).toHaveText(`cancer@challenger v${version}`);
    await expect(item.getByTestId('deployment-restarts')).toHaveText('no restarts');
    const link = item.locator('a.mlops-Deployment-url');
    await expect(link).toHaveAttribute('href', `http://127.0.0.1:${DEPLOY_PORT}/docs`);
    const docs = await page.request.get((await link.getAttribute('href'))!);
    expect(docs.status()).toBe(200);

    // The detail: a test request prefilled with one record of the model's 30 columns, all zeros.
    await item.locator('.mlops-Deployment-toggle').click();
    await expect(item.locator('.mlops-Deployment-toggle')).toHaveAttribute('aria-expanded', 'true');
    const body = item.getByLabel('Test request');
    await expect(body).toHaveValue(/"mean radius": 0/);
    const prefilled = JSON.parse(await body.inputValue()) as { dataframe_records: Record<string, number>[] };
    expect(prefilled.dataframe_records).toHaveLength(1);
    expect(Object.keys(prefilled.dataframe_records[0])).toHaveLength(30);
    expect(Object.values(prefilled.dataframe_records[0]).every(v => v === 0)).toBe(true);

    // Send: through the lab's proxy to the deployment, which answers its predictions.
    await item.getByRole('button', { name: 'Send', exact: true }).click();
    const answer = item.getByTestId('deployment-answer');
    await expect(answer).toContainText('HTTP 200');
    await expect(answer.locator('.mlops-Answer-body')).toHaveText(/^\{"predictions":\[[01]\]\}$/);

    // A wrong request: the deployment's JSON error is shown as it came.
    await body.fill('{"dataframe_records": [{"mean radius": 1}]}');
    await item.getByRole('button', { name: 'Send', exact: true }).click();
    await expect(answer).toContainText('HTTP 422');
    await expect(answer.locator('.mlops-Answer-body')).toContainText('"error_code": "invalid_input"');
    await expect(answer.locator('.mlops-Answer-body')).toContainText('"missing"');
    // "reset" puts the example back.
    await item.getByRole('button', { name: 'reset' }).click();
    await expect(body).toHaveValue(/"mean radius": 0/);
    await item.getByRole('button', { name: 'Send', exact: true }).click();
    await expect(answer.locator('.mlops-Answer-body')).toHaveText(/^\{"predictions":\[[01]\]\}$/);

    // Logs: the tail of the deployment's log.
    await item.getByRole('button', { name: 'Logs', exact: true }).click();
    const logs = item.getByTestId('deployment-logs');
    await expect(logs.locator('.mlops-Logs-line').first()).toBeVisible();
    await expect(logs).toContainText('Application startup complete');
    await expect(item.getByRole('button', { name: 'Rollback' })).toHaveCount(0);
    await snapshot(section, testInfo, 'deployments-light.png');

    await page.theme.setDarkTheme();
    const darkPanel = await openPanel(page);
    const darkItem = deploymentsSection(darkPanel).locator(`li.mlops-Deployment[data-deployment="${DEPLOY_NAME}"]`);
    await expect(darkItem.getByTestId('deployment-answer')).toBeVisible();
    await darkPanel.locator('.mlops-Panel-header').hover();
    await snapshot(deploymentsSection(darkPanel), testInfo, 'deployments-dark.png');
    await page.theme.setLightTheme();

    // A swap to version 1 (%deploy again, same name and port) leaves a model to roll back to.
    const swapped = await runInNewCell(page, `%deploy cancer/1 --name ${DEPLOY_NAME} --port ${DEPLOY_PORT}`);
    await expect(swapped).toContainText(`deployment '${DEPLOY_NAME}': healthy`, { timeout: DEPLOY_TIMEOUT });
    await expect(item.locator('.mlops-Deployment-model')).toHaveText('cancer/1 v1');
    const rollback = item.getByRole('button', { name: 'Rollback' });
    await expect(rollback).toBeVisible();
    await snapshot(section, testInfo, 'deployments-swapped-light.png');
    await rollback.click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Roll ${DEPLOY_NAME} back?`);
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    // Back to exactly the version served before (named by its number now: the alias may have moved since).
    await expect(item.locator('.mlops-Deployment-model')).toHaveText(`cancer/${version} v${version}`, {
      timeout: DEPLOY_TIMEOUT
    });
    const back = (await (await page.request.get(`${DEPLOYMENTS_URL}/${DEPLOY_NAME}`)).json()) as IDeploymentJson;
    expect(back).toMatchObject({ status: 'healthy', version, model_uri: `models:/cancer/${version}` });

    // Stop asks first; cancelled, nothing happens.
    const stop = item.getByRole('button', { name: 'Stop', exact: true });
    await stop.click();
    await expect(dialog).toContainText(`Stop ${DEPLOY_NAME}?`);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(item.getByTestId('deployment-status')).toHaveText('healthy');
    // Confirmed, the deployment stops and leaves the list.
    await stop.click();
    await dialog.getByRole('button', { name: 'Stop' }).click();
    await expect(item).toHaveCount(0, { timeout: DEPLOY_TIMEOUT });
    const stopped = (await (await page.request.get(`${DEPLOYMENTS_URL}/${DEPLOY_NAME}`)).json()) as IDeploymentJson;
    expect(stopped.status).toBe('stopped');
    const listed = (await (await page.request.get(DEPLOYMENTS_URL)).json()) as IDeploymentJson[];
    expect(listed.map(d => d.name)).not.toContain(DEPLOY_NAME);
  });
});
