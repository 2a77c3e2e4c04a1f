/**
 * Panel buttons that act on a notebook insert the matching magic into a new cell and run it,
 * so the notebook records what the click did.
 */
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

const LOAD_EXTENSION = '%load_ext mlops_magics';

/** The magic with `%load_ext` in front when no cell of the notebook loads the extension yet. */
export function withExtensionLoaded(magic: string, cellSources: string[]): string {
  const loaded = cellSources.some(source =>
    source.split('\n').some(line => line.trim() === LOAD_EXTENSION)
  );
  return loaded ? magic : `${LOAD_EXTENSION}\n${magic}`;
}

export async function insertMagic(tracker: INotebookTracker, magic: string): Promise<boolean> {
  const panel = tracker.currentWidget;
  if (!panel) {
    Notification.warning(`Open a notebook first: this button runs \`${magic}\` in it.`, {
      autoClose: 5000
    });
    return false;
  }
  await panel.sessionContext.ready;
  const notebook = panel.content;
  const model = notebook.model;
  if (!model) {
    return false;
  }
  const sources = Array.from(model.cells, cell => cell.sharedModel.getSource());
  notebook.activeCellIndex = Math.max(model.cells.length - 1, 0);
  const lastIsEmpty = model.cells.length > 0 && sources[sources.length - 1].trim() === '';
  if (!lastIsEmpty) {
    NotebookActions.insertBelow(notebook);
  }
  const cell = notebook.activeCell;
  if (!cell) {
    return false;
  }
  if (cell.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  notebook.activeCell?.model.sharedModel.setSource(withExtensionLoaded(magic, sources));
  return NotebookActions.run(notebook, panel.sessionContext);
}
