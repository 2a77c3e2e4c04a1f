/**
 * Configuration for Playwright using galata's defaults, run in Debian's chromium (Playwright's own browser
 * download does not work on these machines). See /work/shared/RECIPE.md.
 */
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const PORT = 8899;
// The Makefile sets both; default to the same folders so a bare `jlpm playwright test` is isolated too. The
// workspace lies in the Jupyter root, as for a person: job notebooks are named relative to that one folder.
const ROOT = process.env.JUPYTERLAB_GALATA_ROOT_DIR || path.join(__dirname, '.ui-root');
const MLOPS_HOME = process.env.MLOPS_HOME || path.join(ROOT, '.mlops');
require('fs').mkdirSync(ROOT, { recursive: true });

module.exports = {
  ...baseConfig,
  workers: 1,
  // Cluster and kernel starts take seconds on a 2-core box.
  timeout: 180 * 1000,
  expect: { ...(baseConfig.expect || {}), timeout: 30 * 1000 },
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${PORT}`,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command: 'jlpm start',
    url: `http://127.0.0.1:${PORT}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false,
    env: { ...process.env, JUPYTERLAB_GALATA_ROOT_DIR: ROOT, MLOPS_HOME }
  }
};
