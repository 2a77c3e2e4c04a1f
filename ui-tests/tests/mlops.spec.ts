/**
 * Browser tests of the MLOps side panel, run by galata in a real JupyterLab with a real workspace controller
 * (MLOPS_HOME points at ui-tests/.mlops-test) and real Dask clusters.
 *
 * Each test stops the cluster it may have started (afterEach), so the tests do not depend on each other.
 */
import * as fs from 'fs';
import * as path from 'path';

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { APIRequestContext, Locator, TestInfo } from '@playwright/test';

const PANEL_ID = 'mlops-panel';
const SECTIONS = ['Cluster', 'Data', 'Experiments', 'Jobs', 'Deployments', 'Monitoring'];
const CLUSTER_URL = '/mlops/api/clusters/default';
// Cluster start on a 2-core box takes a few seconds; leave plenty of room for a slow CI runner.
const CLUSTER_TIMEOUT = 90 * 1000;
// Written only on request (UPDATE_README_SCREENSHOT=1), never by CI.
const README_SCREENSHOT = path.resolve(__dirname, '..', '..', 'docs', 'panel.png');

async function openPanel(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.sidebar.openTab(PANEL_ID);
  const panel = page.locator(`#${PANEL_ID}`);
  await expect(panel).toBeVisible();
  return panel;
}

/** The panel's Cluster section; its badge reads "none" once the first poll answered. */
function clusterSection(panel: Locator): Locator {
  return panel.locator('section[data-section="Cluster"]');
}

async function snapshot(panel: Locator, testInfo: TestInfo, name: string): Promise<string> {
  // Park the mouse in the main area so no hover highlight shows in the picture.
  await panel.page().mouse.move(700, 500);
  const file = testInfo.outputPath(name);
  await panel.screenshot({ path: file, animations: 'disabled' });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
  return file;
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
  for (const title of SECTIONS.slice(1)) {
    await expect(panel.locator(`section[data-section="${title}"] .mlops-Section-badge`)).toHaveText(
      'not built yet'
    );
  }
  // The first poll answered: no cluster yet, so the start form is shown.
  const cluster = clusterSection(panel);
  await expect(cluster.locator('.mlops-Section-badge')).toHaveText('none');
  await expect(cluster.getByLabel('Workers', { exact: true })).toHaveValue('2');
  await expect(cluster.getByRole('button', { name: 'Start cluster' })).toBeVisible();
  await expect(cluster.getByRole('button', { name: 'Start in notebook' })).toBeVisible();

  // A collapsed section opens on click and shows its empty state.
  await panel.getByRole('button', { name: /^Data/ }).click();
  await expect(panel.locator('#mlops-section-data')).toContainText('not built yet in this release');

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
