/**
 * Browser test of the Data section's suggested preparation (%prep from the panel), in a real JupyterLab over the
 * UI tests' workspace: a small messy frame of customers is profiled with its target (prep_setup.py: a customer ID,
 * missing values, a skewed amount, a town of a few hundred levels). The profile's "prep" form lists its columns,
 * says in one line why a task its target cannot have is refused, then shows the decisions (the ID dropped) and the
 * code, which goes into a new cell of the open notebook, not run.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';

import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import { openPanel, snapshot } from './helpers';

const TITLE = 'customers (prep)';
const ROOT = process.env.JUPYTERLAB_GALATA_ROOT_DIR || path.resolve(__dirname, '..', '.ui-root');
const MLOPS_HOME = process.env.MLOPS_HOME || path.join(ROOT, '.mlops');
const VENV_PYTHON = path.resolve(__dirname, '..', '..', '.venv', 'bin', 'python');
const PYTHON = fs.existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3';
const SETUP_TIMEOUT = 120 * 1000;

interface ISeeded {
  id: string;
  title: string;
  columns: string[];
}

/** Profile the messy frame into the workspace, as `%eda customers --target churned` would. */
async function seedProfile(): Promise<ISeeded> {
  const { stdout } = await promisify(execFile)(PYTHON, [path.join(__dirname, 'prep_setup.py'), TITLE], {
    cwd: ROOT,
    env: { ...process.env, MLOPS_HOME },
    timeout: SETUP_TIMEOUT
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ISeeded;
}

/** The decisions table's row of a column: its "found" and "done" cells. */
function decision(prep: Locator, column: string): Locator {
  return prep.locator('.mlops-PrepTable tbody tr', { has: prep.page().locator('th', { hasText: column }) });
}

// Tall enough for the whole Data section with the form, the table and the code in one picture.
test.use({ autoGoto: true, viewport: { width: 1280, height: 1400 } });

test('a profile suggests its preparation: the decisions, the code, inserted into a notebook', async ({
  page
}, testInfo) => {
  const seeded = await seedProfile();
  expect(seeded.id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}$/);

  const panel = await openPanel(page);
  const data = panel.locator('section[data-section="Data"]');
  const item = data.locator(`.mlops-Profile[data-profile-id="${seeded.id}"]`);
  await expect(item).toBeVisible({ timeout: 30 * 1000 });
  await expect(item.locator('.mlops-Profile-title')).toHaveText(TITLE);

  // "prep" opens the form under the profile: the target select lists its columns after the profile's own target.
  const open = item.getByRole('button', { name: 'prep', exact: true });
  await expect(open).toHaveAttribute('aria-expanded', 'false');
  await open.click();
  await expect(open).toHaveAttribute('aria-expanded', 'true');
  const prep = item.getByTestId('prep');
  const target = prep.getByLabel('Target');
  await expect(target.locator('option')).toHaveText(["churned (the profile's own)", ...seeded.columns]);
  await expect(target).toHaveValue('');
  const task = prep.getByLabel('Task');
  await expect(task).toHaveValue('auto');

  // A task the target cannot have is refused in one line, from the server.
  await task.selectOption('regression');
  await prep.getByRole('button', { name: 'Suggest preparation' }).click();
  const error = prep.getByRole('alert');
  await expect(error).toHaveText("target column 'churned' holds categorical values: regression needs numbers; ask for classification");
  await expect(prep.getByTestId('prep-result')).toHaveCount(0);

  // With the task read from the target: the decisions, one row a column, and the code.
  await task.selectOption('auto');
  await prep.getByRole('button', { name: 'Suggest preparation' }).click();
  const result = prep.getByTestId('prep-result');
  await expect(result).toBeVisible();
  await expect(error).toHaveCount(0);
  await expect(result.locator('.mlops-Prep-caption')).toHaveText('Target: churned (classification) · 1 dropped');
  await expect(result.locator('.mlops-PrepTable thead th')).toHaveText(['column', 'found', 'done']);
  const id = decision(result, 'customer_id');
  await expect(id.locator('td')).toHaveText(['ID-like, 600 distinct of 600', 'dropped']);
  await expect(id).toHaveAttribute('data-tone', 'dropped');
  await expect(decision(result, 'age').locator('td')).toHaveText([
    '18% missing',
    'median, with a missing-value indicator'
  ]);
  await expect(decision(result, 'town').locator('td')).toHaveText(['229 levels', 'a string encoder']);
  await expect(decision(result, 'plan')).toHaveAttribute('data-tone', 'kept');
  const code = result.getByTestId('prep-code');
  await expect(code).toContainText('prep = ColumnTransformer(');
  await expect(code).toContainText('#   customer_id: ID-like, 600 distinct of 600 → dropped');

  // No notebook is open yet: the insert button says why it cannot; Copy works.
  const insert = result.getByRole('button', { name: 'Insert into notebook' });
  await expect(insert).toBeDisabled();
  await expect(insert).toHaveAttribute('title', 'No notebook is open: open one to insert the code into it');
  await expect(result.locator('.mlops-Prep-note')).toHaveText('open a notebook to insert it');
  await result.getByRole('button', { name: 'Copy' }).click();
  await expect(result.getByRole('status')).toHaveText('copied');
  await snapshot(data, testInfo, 'prep-light.png');

  // With a notebook open, the code goes in a new cell below its active cell, not run.
  const name = await page.notebook.createNew();
  expect(name).toBeTruthy();
  await openPanel(page);
  await expect(insert).toBeEnabled();
  await expect(insert).toHaveAttribute(
    'title',
    `Insert the code as a new cell below the active cell of ${name} (not run)`
  );
  await insert.click();
  await expect(result.getByRole('status')).toHaveText(`inserted into ${name}`);
  const sources = (): Promise<string[]> =>
    page.evaluate(() => {
      const notebook = (window as any).jupyterapp.shell.currentWidget.content;
      return notebook.widgets.map((cell: any) => cell.model.sharedModel.getSource());
    });
  await expect.poll(sources).toHaveLength(2);
  const [first, inserted] = await sources();
  expect(first).toBe('');
  expect(inserted).toContain('prep = ColumnTransformer(');
  expect(inserted).toBe(await code.textContent());
  const cells = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  await expect(cells.nth(1)).toHaveClass(/jp-CodeCell/);
  await expect(cells.nth(1)).toHaveClass(/jp-mod-active/);
  await expect(cells.nth(1).locator('.jp-InputArea-editor')).toContainText('prep = ColumnTransformer(');
  await expect(cells.nth(1).locator('.jp-InputPrompt')).toHaveText('[ ]:');

  // The dark theme: the form, the table and the code stay readable.
  await page.theme.setDarkTheme();
  const dark = await openPanel(page);
  const darkData = dark.locator('section[data-section="Data"]');
  await expect(darkData.getByTestId('prep-result')).toBeVisible();
  await dark.locator('.mlops-Panel-header').hover();
  await snapshot(darkData, testInfo, 'prep-dark.png');
  await snapshot(page.locator('#jp-main-dock-panel'), testInfo, 'prep-notebook-dark.png');

  // The × closes the form.
  await darkData.getByRole('button', { name: 'Close the suggested preparation' }).click();
  await expect(darkData.getByTestId('prep')).toHaveCount(0);
});
