/**
 * Panel buttons that act on a notebook insert the matching magic into a new cell and run it,
 * so the notebook records what the click did.
 */
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';

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

/** The name of the notebook a panel button acts on (the tracker's current one, the last one focused), or null. */
export function currentNotebookName(tracker: INotebookTracker): string | null {
  const path = tracker.currentWidget?.context.localPath;
  return path ? (path.split('/').pop() ?? path) : null;
}

/**
 * Insert `code` as a new code cell below the active cell of the current notebook, without running it: code to read
 * and edit first (the Data section's suggested preparation). False when no notebook is open.
 */
export function insertCode(tracker: INotebookTracker, code: string): boolean {
  const panel = tracker.currentWidget;
  const notebook = panel?.content;
  if (!panel || !notebook?.model) {
    return false;
  }
  if (notebook.model.cells.length > 0 && notebook.activeCellIndex < 0) {
    notebook.activeCellIndex = notebook.model.cells.length - 1;
  }
  const cells = notebook.model.cells.length;
  NotebookActions.insertBelow(notebook);
  if (notebook.model.cells.length !== cells + 1) {
    return false; // no new cell: never write over one the notebook had
  }
  if (notebook.activeCell?.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  notebook.activeCell?.model.sharedModel.setSource(code);
  return true;
}

/** A DataFrame global of a notebook's kernel, as the Data section offers it for profiling. */
export interface IDataFrameInfo {
  name: string;
  kind: 'pandas' | 'dask';
  /** Unknown (null) for Dask: counting them would compute the whole frame. */
  rows: number | null;
  columns: number;
  /** Dask partitions; null for pandas. */
  partitions: number | null;
}

export type DataFrameListing =
  | { status: 'no-notebook' }
  | { status: 'no-kernel'; notebook: string }
  | { status: 'ok'; notebook: string; frames: IDataFrameInfo[] };

const LISTING_TIMEOUT = 15 * 1000;

/**
 * Python run in the kernel to list its DataFrames. It imports neither pandas nor Dask (a frame can only exist when
 * its library is already in sys.modules), never counts a Dask frame's rows, and leaves no name behind.
 */
export const LIST_DATAFRAMES_CODE = `def __mlops_list_dataframes():
    import json, sys
    pandas, dask = sys.modules.get("pandas"), sys.modules.get("dask.dataframe")
    found = []
    for name, value in list(globals().items()):
        if name.startswith("_") or not name.isidentifier():
            continue
        try:
            if pandas is not None and isinstance(value, pandas.DataFrame):
                found.append({"name": name, "kind": "pandas", "rows": len(value), "columns": len(value.columns), "partitions": None})
            elif dask is not None and isinstance(value, dask.DataFrame):
                found.append({"name": name, "kind": "dask", "rows": None, "columns": len(value.columns), "partitions": value.npartitions})
        except Exception:
            continue
    print(json.dumps(found))
try:
    __mlops_list_dataframes()
finally:
    del __mlops_list_dataframes
`;

/** The pandas and Dask DataFrames among the globals of the active notebook's kernel. */
export async function listDataFrames(tracker: INotebookTracker): Promise<DataFrameListing> {
  const panel = tracker.currentWidget;
  if (!panel) {
    return { status: 'no-notebook' };
  }
  const notebook = panel.context.localPath.split('/').pop() ?? panel.context.localPath;
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    return { status: 'no-kernel', notebook };
  }
  const future = kernel.requestExecute({ code: LIST_DATAFRAMES_CODE, silent: false, store_history: false });
  let stdout = '';
  let failure: string | null = null;
  future.onIOPub = msg => {
    if (KernelMessage.isStreamMsg(msg) && msg.content.name === 'stdout') {
      stdout += msg.content.text;
    } else if (KernelMessage.isErrorMsg(msg)) {
      failure = `${msg.content.ename}: ${msg.content.evalue}`;
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>(resolve => {
    timer = setTimeout(() => resolve('timeout'), LISTING_TIMEOUT);
  });
  try {
    const done = await Promise.race([future.done, timeout]);
    if (done === 'timeout') {
      throw new Error(`the kernel of ${notebook} did not answer in ${LISTING_TIMEOUT / 1000} s; is a cell still running?`);
    }
  } finally {
    clearTimeout(timer);
  }
  if (failure) {
    throw new Error(`the kernel of ${notebook} could not list its DataFrames (${failure}); is it a Python kernel?`);
  }
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return { status: 'ok', notebook, frames: JSON.parse(line) as IDataFrameInfo[] };
  } catch {
    throw new Error(`unexpected answer from the kernel of ${notebook}: ${stdout.slice(0, 200)}`);
  }
}
