/**
 * What every UI spec does the same way: open the MLOps panel, and take a screenshot a person can look at.
 */

import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator, TestInfo } from '@playwright/test';

export const PANEL_ID = 'mlops-panel';

export async function openPanel(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.sidebar.openTab(PANEL_ID);
  const panel = page.locator(`#${PANEL_ID}`);
  await expect(panel).toBeVisible();
  return panel;
}

/** A screenshot of `target`, attached to the test's report; returns its file. */
export async function snapshot(target: Locator, testInfo: TestInfo, name: string): Promise<string> {
  // Park the mouse in the main area so no hover highlight shows in the picture.
  await target.page().mouse.move(900, 500);
  const file = testInfo.outputPath(name);
  await target.screenshot({ path: file, animations: 'disabled' });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
  return file;
}
