/**
 * Browser test of the panel's Jobs section, in a real JupyterLab with a real workspace controller that runs the job
 * in a real kernel: a notebook with a `parameters` cell becomes a job from the file browser's context menu, runs
 * now with a parameter typed in the panel, shows its progress cell by cell, succeeds, and its executed notebook
 * opens in a tab.
 *
 * The controller names job notebooks relative to its workspace's root, the folder above MLOPS_HOME; the notebook
 * the file browser names is relative to the Jupyter root. playwright.config.js makes them one folder
 * (ui-tests/.ui-root, with the workspace in ui-tests/.ui-root/.mlops).
 */
import { expect, test } from '@jupyterlab/galata';
import { PANEL_ID, snapshot } from './helpers';

const JOB = 'retrain-job';
const NOTEBOOK = `${JOB}.ipynb`;
const FAILING_JOB = 'divide-job';
const QUICK_JOB = 'quick';
// A run starts a kernel of its own: seconds on a 2-core box, more when other tests share it.
const RUN_TIMEOUT = 120 * 1000;

const code = (source: string, tags: string[] = []): Record<string, unknown> => ({
  cell_type: 'code',
  execution_count: null,
  metadata: tags.length ? { tags } : {},
  outputs: [],
  source
});

/** Five cells that take a second each (the progress can be seen moving), with papermill's `parameters` cell. */
const CONTENT = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {
    kernelspec: { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' },
    language_info: { name: 'python' }
  },
  cells: [
    { cell_type: 'markdown', metadata: {}, source: '# Retrain' },
    code("alpha = 0.5\nregion = 'eu'", ['parameters']),
    code('import time\ntime.sleep(1)'),
    code('time.sleep(1)\nscore = round(1 - alpha / 10, 3)'),
    code('time.sleep(1)'),
    code("time.sleep(1)\nprint(f'region={region} alpha={alpha} score={score}')")
  ]
};

test.use({ autoGoto: true });

test.afterEach(async ({ request }) => {
  for (const name of [JOB, FAILING_JOB, QUICK_JOB]) {
    await request.delete(`/mlops/api/jobs/${name}`).catch(() => undefined);
  }
});

test('a job made from the file browser runs now with a parameter, shows its progress, and opens its output', async ({
  page,
  request,
  tmpPath
}, testInfo) => {
  const path = `${tmpPath}/${NOTEBOOK}`;
  const saved = await request.put(`/api/contents/${path}`, {
    data: { type: 'notebook', format: 'json', content: CONTENT }
  });
  expect(saved.status()).toBe(201);
  await page.filebrowser.refresh();

  // The file browser's context menu on the notebook: Create Job from Notebook, then the dialog.
  const item = page.locator('.jp-DirListing-item[data-file-type="notebook"]', { hasText: NOTEBOOK });
  await item.click({ button: 'right' });
  await page.locator('.lm-Menu-item', { hasText: 'Create Job from Notebook' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('.mlops-JobForm-notebook')).toHaveText(path);
  await expect(dialog.getByLabel('Name')).toHaveValue(JOB);
  await expect(dialog.getByLabel('Run it now')).not.toBeChecked();
  await snapshot(dialog.locator('.jp-Dialog-content'), testInfo, 'jobs-new-job-dialog.png');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();

  // The panel opens on the Jobs section, with the new job open (or the dialog comes back saying why not).
  const panel = page.locator(`#${PANEL_ID}`);
  const section = panel.locator('section[data-section="Jobs"]');
  const job = section.locator(`li[data-job="${JOB}"]`);
  const refused = dialog.getByRole('alert');
  await expect(job.or(refused).first()).toBeVisible();
  expect(await refused.allTextContents()).toEqual([]);
  await expect(dialog).toHaveCount(0);
  await expect(section.locator('.mlops-Section-badge')).toHaveText(/^\d+ jobs?$/);
  await expect(job.getByTestId('job-triggers')).toHaveText('on demand');
  await expect(job.locator('.mlops-Job-norun')).toHaveText('no runs');
  await expect(job.getByRole('list', { name: `Runs of ${JOB}` })).toHaveCount(0);
  await expect(job.locator('.mlops-JobRuns .mlops-Empty')).toHaveText('No runs yet.');

  // Run now: the form offers the declared parameters, from their defaults; one is changed.
  await job.getByRole('button', { name: 'Run now' }).click();
  const form = job.getByRole('form', { name: `Run ${JOB} now` });
  await expect(form.getByLabel('alpha')).toHaveValue('0.5');
  await expect(form.getByLabel('region')).toHaveValue('eu');
  await form.getByLabel('region').fill('us-east');
  await form.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(form).toHaveCount(0);

  // The live run: its bar moves cell by cell (seen between the first cell and the last), then it succeeds.
  const live = job.getByTestId('job-live-run');
  await expect(live).toBeVisible();
  const bar = live.getByRole('progressbar');
  await expect
    .poll(
      async () => {
        const text = (await bar.getAttribute('aria-valuetext').catch(() => null)) ?? '';
        const match = /^(\d+) \/ (\d+) cells$/.exec(text);
        return match !== null && Number(match[1]) > 0 && Number(match[1]) < Number(match[2]);
      },
      { timeout: RUN_TIMEOUT, intervals: [250] }
    )
    .toBe(true);
  await expect(live).toHaveAttribute('data-state', 'running');
  await snapshot(section, testInfo, 'jobs-running-light.png');

  const state = job.locator('.mlops-Job-head [data-testid="job-run-state"]');
  await expect(state).toHaveText('succeeded', { timeout: RUN_TIMEOUT });
  await expect(live).toHaveCount(0);
  const run = job.locator('.mlops-JobRun[data-run="1"]');
  await expect(run.getByTestId('job-run-state')).toHaveText('succeeded');
  await expect(run.locator('.mlops-JobRun-line')).toHaveText(/^#1 · \d+(\.\d)? s$/);
  await expect(run.locator('.mlops-JobRun-trigger')).toHaveText('run now');

  // Logs show the run's log.
  await run.getByRole('button', { name: 'Logs' }).click();
  await expect(run.getByTestId('job-run-logs')).toBeVisible();
  await expect(run.getByTestId('job-run-logs')).not.toContainText('Reading the log');
  await snapshot(section, testInfo, 'jobs-succeeded-light.png');
  await run.getByRole('button', { name: 'Close the log' }).click();

  await page.theme.setDarkTheme();
  await expect(section).toBeVisible();
  await snapshot(section, testInfo, 'jobs-succeeded-dark.png');
  await page.theme.setLightTheme();

  // Open output: the executed notebook opens in a tab, with the parameter given and the cells' outputs.
  await run.getByRole('button', { name: 'Open output' }).click();
  const notebook = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)');
  await expect(notebook.locator('.jp-OutputArea-output').last()).toContainText('region=us-east alpha=0.5 score=0.95', {
    timeout: 30 * 1000
  });
  await expect(notebook.locator('.jp-Cell', { hasText: 'region = "us-east"' })).toHaveCount(1);
  const runs = (await (await request.get(`/mlops/api/jobs/${JOB}/runs`)).json()) as { output: string }[];
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
  await expect(tab).toHaveAttribute('title', new RegExp(`Path: ${runs[0].output.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  // Its toolbar offers Run as job, as every notebook's does.
  await expect(notebook.locator('.jp-Toolbar').getByText('Run as job')).toBeVisible();

  // Pause and Resume, then Delete after its confirmation.
  await job.getByRole('button', { name: 'Pause' }).click();
  await expect(job.getByTestId('job-paused')).toHaveText('paused');
  await job.getByRole('button', { name: 'Resume' }).click();
  await expect(job.getByTestId('job-paused')).toHaveCount(0);
  await job.getByRole('button', { name: 'Delete' }).click();
  const confirm = page.locator('.jp-Dialog');
  await expect(confirm).toContainText(`Delete job ${JOB}?`);
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await expect(job).toHaveCount(0);
  expect((await request.get(`/mlops/api/jobs/${JOB}`)).status()).toBe(404);
});

const FAILING = {
  ...CONTENT,
  cells: [code('x = 1'), code('import time\ntime.sleep(1)'), code('x / 0'), code("print('not reached')")]
};

test('a failed run says why with its failing cell; the schedule is edited, and a bad one refused', async ({
  page,
  request,
  tmpPath
}, testInfo) => {
  const path = `${tmpPath}/divide.ipynb`;
  expect((await request.put(`/api/contents/${path}`, { data: { type: 'notebook', format: 'json', content: FAILING } })).status()).toBe(201);
  expect((await request.put(`/mlops/api/jobs/${FAILING_JOB}`, { data: { notebook: path } })).status()).toBe(200);

  await page.sidebar.openTab(PANEL_ID);
  const section = page.locator(`#${PANEL_ID} section[data-section="Jobs"]`);
  await section.getByRole('button', { name: /^Jobs/ }).click();
  const job = section.locator(`li[data-job="${FAILING_JOB}"]`);
  await job.getByRole('button', { name: FAILING_JOB }).click();

  // No parameters declared: Run now runs at once.
  await job.getByRole('button', { name: 'Run now' }).click();
  const state = job.locator('.mlops-Job-head [data-testid="job-run-state"]');
  await expect(state).toHaveText('failed', { timeout: RUN_TIMEOUT });
  const run = job.locator('.mlops-JobRun[data-run="1"]');
  const reason = run.getByTestId('job-run-reason');
  await expect(reason).toContainText('ZeroDivisionError');
  await expect(reason.locator('.mlops-JobRun-source')).toHaveText('x / 0');
  await expect(run.getByRole('button', { name: 'Cancel' })).toHaveCount(0);

  // The schedule: a bad cron expression is refused with the server's message; a good one shows its next run.
  await job.getByRole('button', { name: 'Schedule' }).click();
  const form = job.getByRole('form', { name: `Schedule of ${FAILING_JOB}` });
  await form.getByLabel('Cron').fill('every day');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form.locator('.mlops-Error')).toContainText('is not a cron expression');
  await form.getByLabel('Cron').fill('0 6 * * 1-5');
  await form.getByLabel('Time zone').fill('Europe/Paris');
  await form.getByRole('button', { name: 'Save' }).click();
  await expect(form).toHaveCount(0);
  await expect(job.getByTestId('job-triggers')).toHaveText("cron '0 6 * * 1-5' (Europe/Paris)");
  await expect(job.getByTestId('job-next')).toHaveText(/^next run in \d+ (s|min|h|d)$/);
  await snapshot(section, testInfo, 'jobs-failed-light.png');
  await page.theme.setDarkTheme();
  await expect(section).toBeVisible();
  await snapshot(section, testInfo, 'jobs-failed-dark.png');
  await page.theme.setLightTheme();

  // Paused, it has no next run.
  await job.getByRole('button', { name: 'Pause' }).click();
  await expect(job.getByTestId('job-paused')).toBeVisible();
  await expect(job.getByTestId('job-next')).toHaveCount(0);
});


test("the notebook toolbar's Run as job saves the notebook's edits, then makes the job and runs it", async ({
  page,
  request,
  tmpPath
}) => {
  const name = `${QUICK_JOB}.ipynb`;
  const content = { ...CONTENT, cells: [code("print('as saved')")] };
  expect((await request.put(`/api/contents/${tmpPath}/${name}`, { data: { type: 'notebook', format: 'json', content } })).status()).toBe(201);
  await page.filebrowser.refresh();
  await page.notebook.open(name);
  await expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toHaveCount(1, { timeout: 60 * 1000 });
  const notebook = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)');
  // The file's content loaded into the document before it is edited (else the load could overwrite the edit).
  await expect(notebook.locator('.jp-Cell').first()).toContainText('as saved', { timeout: 60 * 1000 });
  // An edit not saved yet: the job must run it.
  await page.evaluate(() => {
    const app = (window as any).jupyterapp;
    app.shell.currentWidget.content.widgets[0].model.sharedModel.setSource("print('as edited')");
  });
  await expect(notebook.locator('.jp-Cell').first()).toContainText('as edited');
  await notebook.locator('.jp-Toolbar').getByText('Run as job').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.getByLabel('Name')).toHaveValue(QUICK_JOB);
  await expect(dialog.getByLabel('Run it now')).toBeChecked();
  await dialog.getByRole('button', { name: 'Create and run' }).click();

  const job = page.locator(`#${PANEL_ID} section[data-section="Jobs"] li[data-job="${QUICK_JOB}"]`);
  const refused = dialog.getByRole('alert');
  await expect(job.or(refused).first()).toBeVisible();
  expect(await refused.allTextContents()).toEqual([]);
  await expect(job.locator('.mlops-Job-head [data-testid="job-run-state"]')).toHaveText('succeeded', {
    timeout: RUN_TIMEOUT
  });
  const run = job.locator('.mlops-JobRun[data-run="1"]');
  await run.getByRole('button', { name: 'Logs' }).click();
  await expect(run.getByTestId('job-run-logs')).toContainText('as edited');
});
