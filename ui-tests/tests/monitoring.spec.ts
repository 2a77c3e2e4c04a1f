/**
 * Browser test of the panel's Monitoring section, in a real JupyterLab with a real workspace controller: a model
 * trained through the training path is served on a real port, and a standing monitor on it checks three windows of
 * real traffic with feedback labels (monitoring_setup.py: one as in training, one with two features shifted, one
 * shifted with a third of the labels wrong). The section lists the monitor with its verdict and checks, opens its
 * latest check (the drift table with the shifted features flagged and their histograms, performance on feedback),
 * draws accuracy over the checks, lists the alerts, and pauses, resumes and checks it again. A swap to a newer
 * version then shows as watched, and as a turn of the loop's timeline.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';

import { expect, test } from '@jupyterlab/galata';
import { openPanel, snapshot } from './helpers';

const NAME = 'loans-ui';
// Not a port the other specs' deployments use.
const PORT = 18131;
const ROOT = process.env.JUPYTERLAB_GALATA_ROOT_DIR || path.resolve(__dirname, '..', '.ui-root');
const MLOPS_HOME = process.env.MLOPS_HOME || path.join(ROOT, '.mlops');
const VENV_PYTHON = path.resolve(__dirname, '..', '..', '.venv', 'bin', 'python');
const PYTHON = fs.existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3';
// Training, a deployment's start and three checks: about a minute on a 2-core box, more when it is shared.
const SETUP_TIMEOUT = 300 * 1000;
const CHECK_TIMEOUT = 90 * 1000;

interface ISetup {
  monitor: string;
  version: string;
  newer: string;
  verdicts: string[];
  drifted: string[];
  last_verdict: string;
  alerts: string[];
}

interface IMonitorJson {
  name: string;
  paused: boolean;
  last_verdict: string | null;
  checks: number;
}

async function setUp(): Promise<ISetup> {
  const { stdout } = await promisify(execFile)(PYTHON, [path.join(__dirname, 'monitoring_setup.py'), NAME, String(PORT)], {
    cwd: ROOT,
    env: { ...process.env, MLOPS_HOME },
    timeout: SETUP_TIMEOUT,
    maxBuffer: 16 * 1024 * 1024
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ISetup;
}

test.use({ autoGoto: true });

test.afterEach(async ({ request }) => {
  await request.delete(`/mlops/api/monitors/${NAME}`).catch(() => undefined);
  await request.delete(`/mlops/api/deployments/${NAME}`, { timeout: CHECK_TIMEOUT }).catch(() => undefined);
});

test('the Monitoring section lists a real monitor with its verdict and opens its drift table, history and alerts', async ({
  page
}, testInfo) => {
  test.setTimeout(SETUP_TIMEOUT + 180 * 1000);
  const made = await setUp();
  expect(made.verdicts).toEqual(['no drift', 'drift', 'decay']);
  expect(made.drifted).toEqual(['income', 'region']);

  // Room for the whole section in the pictures: a taller window, the sections above it collapsed.
  await page.setViewportSize({ width: 1280, height: 1400 });
  const panel = await openPanel(page);
  await panel.locator('section[data-section="Cluster"]').getByRole('button', { name: /^Cluster/ }).click();
  await panel.locator('section[data-section="Data"]').getByRole('button', { name: /^Data/ }).click();
  const section = panel.locator('section[data-section="Monitoring"]');
  await expect(section.locator('.mlops-Section-badge')).toHaveText(/^\d+ monitors? · \d+ flagged$/);
  await section.getByRole('button', { name: /^Monitoring/ }).click();

  // The monitor's line: its verdict (the last check's), its deployment and schedule, when it was and will be checked.
  const item = section.locator(`li.mlops-Monitor[data-monitor="${NAME}"]`);
  await expect(item.getByTestId('monitor-verdict')).toHaveText(made.last_verdict);
  await expect(item.getByTestId('monitor-verdict')).toHaveClass(/mlops-Verdict-bad/);
  await expect(item.locator('.mlops-Monitor-meta')).toContainText(`${NAME}every 1h over the last 300 rows`);
  await expect(item.getByTestId('monitor-last')).toHaveText(/^checked /);
  await expect(item.getByTestId('monitor-next')).toHaveText(/^next in (59|60) min$/);
  await expect(item.locator('.mlops-Monitor-reason')).toContainText('accuracy');

  // Opened: the latest check, its drift table with the shifted features flagged first.
  await item.locator('.mlops-Monitor-toggle').click();
  const detail = item.getByTestId('monitor-detail');
  await expect(detail.getByTestId('check-verdict')).toHaveText('decay');
  await expect(detail.getByTestId('check-traffic')).toContainText('300 rows in 12 requests');
  const table = detail.getByTestId('drift-table');
  await expect(table.locator('tbody tr.mlops-DriftTable-row')).toHaveCount(4);
  await expect(table.locator('tbody tr.mlops-DriftTable-row .mlops-DriftTable-toggle')).toHaveText([
    'income',
    'region',
    'age',
    'visits'
  ]);
  const income = table.locator('tr[data-feature="income"]');
  await expect(income).toHaveAttribute('data-verdict', 'drift');
  await expect(income).toHaveClass(/mlops-DriftTable-drifted/);
  await expect(income.getByTestId('feature-kind')).toHaveText('numeric');
  await expect(income.getByTestId('feature-verdict')).toHaveText('drift');
  await expect(income.getByTestId('feature-effect')).toHaveText(/^\d\.\d+ > 0\.1$/);
  await expect(income.getByTestId('feature-p')).toHaveText('<0.001');
  await expect(income.locator('.mlops-DriftTable-statistic')).toHaveText('Wasserstein');
  // Its histogram: 20 reference bars under the window's step line.
  const histogram = income.getByTestId('feature-histogram');
  await expect(histogram.locator('rect.mlops-Histogram-reference')).toHaveCount(20);
  await expect(histogram.locator('path.mlops-Histogram-step')).toHaveCount(1);
  const region = table.locator('tr[data-feature="region"]');
  await expect(region.getByTestId('feature-kind')).toHaveText('categorical');
  await expect(region.locator('.mlops-DriftTable-statistic')).toHaveText('JS distance');
  await expect(region.getByTestId('feature-effect')).toHaveText(/^0\.\d+ > 0\.1$/);
  // A category histogram: a training bar and a window bar per region.
  await expect(region.locator('rect.mlops-Histogram-current')).toHaveCount(4);
  await expect(table.locator('tr[data-feature="age"]')).toHaveAttribute('data-verdict', 'no drift');
  await expect(table.locator('tr[data-feature="visits"] .mlops-Histogram-current')).not.toHaveCount(0);

  // The predictions drifted too; performance on feedback fell below its limit.
  await expect(detail.getByTestId('prediction-drift')).toContainText('driftJensen-Shannon');
  const performance = detail.getByTestId('monitor-performance');
  await expect(performance.getByTestId('performance-verdict')).toHaveText('decay');
  const accuracy = performance.locator('tr[data-metric="accuracy"]');
  await expect(accuracy).toHaveClass(/mlops-MetricTable-crossed/);
  await expect(accuracy.locator('td')).toHaveText(['0.65', /^(0\.99\d|1)$/, 'min 0.8']);
  await expect(performance.locator('thead th').nth(2)).toHaveText('eval');

  // Accuracy over the three checks, against the model's eval accuracy and the limit.
  const chart = detail.getByTestId('history-chart');
  await expect(chart).toHaveAttribute('data-series', 'metric:accuracy');
  await expect(chart.locator('circle.mlops-Sparkline-dot')).toHaveCount(3);
  await expect(chart.locator('line.mlops-Sparkline-limit')).toHaveCount(1);
  await expect(chart.getByTestId('history-latest')).toHaveText('latest 0.65');
  await detail.getByLabel('Series over the checks').selectOption('drift');
  await expect(chart).toHaveAttribute('data-series', 'drift');
  await expect(chart.locator('circle.mlops-Sparkline-dot')).toHaveCount(3);
  await detail.getByLabel('Series over the checks').selectOption('metric:accuracy');

  // The alerts: decay, then drift (newest first).
  const alerts = section.getByTestId('monitor-alerts');
  const ours = alerts.locator(`li.mlops-Alert[data-monitor="${NAME}"]`);
  await expect(ours.getByTestId('alert-kind')).toHaveText(made.alerts);
  await expect(ours.first().locator('.mlops-Alert-message')).toContainText('accuracy 0.65 below the minimum 0.8');
  // No alert started anything: no timeline (the alerts are in their list).
  await expect(detail.getByTestId('monitor-timeline')).toHaveCount(0);

  await snapshot(section, testInfo, 'monitoring-light.png');
  // A row opens its histogram, larger.
  await income.locator('.mlops-DriftTable-toggle').click();
  await expect(table.locator('tr.mlops-DriftTable-detail .mlops-Histogram-large')).toBeVisible();
  await expect(table.locator('tr.mlops-DriftTable-detail')).toContainText('wasserstein');
  await region.locator('.mlops-DriftTable-toggle').click();
  await expect(table.locator('tr.mlops-DriftTable-detail .mlops-HistogramAxis')).toHaveCount(2);
  await snapshot(detail, testInfo, 'monitoring-histograms-light.png');

  await page.theme.setDarkTheme();
  const darkPanel = await openPanel(page);
  const darkSection = darkPanel.locator('section[data-section="Monitoring"]');
  await expect(darkSection.getByTestId('drift-table')).toBeVisible();
  await darkPanel.locator('.mlops-Panel-header').hover();
  await snapshot(darkSection, testInfo, 'monitoring-dark.png');
  await page.theme.setLightTheme();

  // Pause stops its schedule (no next check); Resume starts it again.
  await item.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(item.getByTestId('monitor-paused')).toHaveText('paused');
  await expect(item.getByTestId('monitor-next')).toHaveCount(0);
  expect(((await (await page.request.get(`/mlops/api/monitors/${NAME}`)).json()) as IMonitorJson).paused).toBe(true);
  await item.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(item.getByTestId('monitor-paused')).toHaveCount(0);
  await expect(item.getByTestId('monitor-next')).toBeVisible();

  // Check now: a fourth check of the same window, shown once done.
  const checkNow = item.getByRole('button', { name: 'Check now' });
  await checkNow.click();
  await expect(item.getByRole('button', { name: 'Checking…' })).toBeDisabled();
  await expect(checkNow).toBeEnabled({ timeout: CHECK_TIMEOUT });
  await expect(chart.locator('circle.mlops-Sparkline-dot')).toHaveCount(4);
  await expect(detail.locator('.mlops-Subheading', { hasText: /^Over / })).toHaveText('Over 4 checks');
  const after = (await (await page.request.get(`/mlops/api/monitors/${NAME}`)).json()) as IMonitorJson;
  expect(after.checks).toBe(4);
  await expect(item.getByTestId('monitor-verdict')).toHaveText(after.last_verdict ?? '');

  // A swap to the newer version: the monitor watches its first window, and the loop's timeline shows the swap.
  const swap = await page.request.put(`/mlops/api/deployments/${NAME}`, {
    data: { model: `${NAME}/${made.newer}`, port: PORT },
    timeout: CHECK_TIMEOUT
  });
  expect(swap.status(), await swap.text()).toBe(200);
  await expect(item.getByTestId('monitor-watching')).toHaveText(`watching v${made.newer} after swap (was v${made.version})`);
  const timeline = detail.getByTestId('monitor-timeline');
  const swapStep = timeline.locator('li.mlops-TimelineStep[data-step="swap"]');
  await expect(swapStep).toHaveCount(1);
  await expect(swapStep).toHaveAttribute('data-state', 'done');
  await expect(swapStep).toContainText(`v${made.version} -> v${made.newer}`);
  await expect(timeline.locator('li.mlops-TimelineStep[data-step="watch"]')).toBeVisible();
  await snapshot(detail, testInfo, 'monitoring-timeline-light.png');
  await page.theme.setDarkTheme();
  await openPanel(page);
  await expect(timeline).toBeVisible();
  await snapshot(timeline, testInfo, 'monitoring-timeline-dark.png');
  await page.theme.setLightTheme();

  // Delete asks first, then the monitor leaves the list; its alerts stay.
  await item.getByRole('button', { name: 'Delete monitor' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText(`Delete monitor ${NAME}?`);
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(item).toHaveCount(0);
  await expect(ours).toHaveCount(made.alerts.length);
});
