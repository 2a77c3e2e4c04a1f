/**
 * "New job" on a notebook, from the panel, the file browser's context menu or the notebook's toolbar: a small dialog
 * (name, optional schedule and time zone, whether to run it now), then PUT /mlops/api/jobs/{name}. A refusal (a bad
 * cron expression, a name taken) shows the dialog again with the values kept and the server's message.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IJob, IJobRun, MLOpsApi, MLOpsApiError } from './api';
import { message } from './format';
import { jobNameFromPath } from './jobs';

/** What the dialog asks. */
export interface INewJobValues {
  name: string;
  cron: string;
  tz: string;
  runNow: boolean;
}

/** The browser's time zone (the one a person means by "6:00"), else UTC. */
function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** The IANA zones the browser knows, offered as suggestions; none where it cannot list them. */
function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
}

let formCount = 0;

/** The dialog's body: labelled inputs, and the last refusal when the dialog is shown again. */
class NewJobForm extends Widget {
  constructor(notebook: string, values: INewJobValues, error: string | null) {
    super();
    this.addClass('mlops-JobForm');
    const id = `mlops-jobform-${++formCount}`;
    const note = document.createElement('div');
    note.className = 'mlops-JobForm-notebook';
    note.textContent = notebook;
    note.title = 'The notebook as saved on disk: the job runs a copy taken now';
    this.node.appendChild(note);

    const grid = document.createElement('div');
    grid.className = 'mlops-Form mlops-JobForm-fields';
    this.node.appendChild(grid);
    const field = (label: string, key: 'name' | 'cron' | 'tz', placeholder: string, hint: string): HTMLInputElement => {
      const tag = document.createElement('label');
      tag.htmlFor = `${id}-${key}`;
      tag.textContent = label;
      const input = document.createElement('input');
      input.id = `${id}-${key}`;
      input.name = key;
      input.value = values[key];
      input.placeholder = placeholder;
      input.title = hint;
      input.spellcheck = false;
      input.autocomplete = 'off';
      grid.append(tag, input);
      return input;
    };
    this.name = field('Name', 'name', 'my-job', "Lowercase letters, digits, '_' and '-'");
    this.cron = field(
      'Schedule',
      'cron',
      'none: on demand (e.g. 0 6 * * 1-5)',
      'A cron expression: MINUTE HOUR DAY MONTH WEEKDAY, e.g. 0 6 * * 1-5 (6:00 on weekdays); empty: it runs on demand'
    );
    this.tz = field('Time zone', 'tz', 'UTC', "The schedule's time zone, an IANA name such as Europe/Paris");
    const known = zones();
    if (known.length) {
      const list = document.createElement('datalist');
      list.id = `${id}-zones`;
      for (const zone of known) {
        const option = document.createElement('option');
        option.value = zone;
        list.appendChild(option);
      }
      this.node.appendChild(list);
      this.tz.setAttribute('list', list.id);
    }

    const run = document.createElement('label');
    run.className = 'mlops-JobForm-run';
    this.runNow = document.createElement('input');
    this.runNow.type = 'checkbox';
    this.runNow.checked = values.runNow;
    run.append(this.runNow, document.createTextNode(' Run it now'));
    this.node.appendChild(run);

    if (error) {
      const refusal = document.createElement('div');
      refusal.className = 'mlops-Error';
      refusal.setAttribute('role', 'alert');
      refusal.textContent = error;
      this.node.appendChild(refusal);
    }
  }

  getValue(): INewJobValues {
    return {
      name: this.name.value.trim(),
      cron: this.cron.value.trim(),
      tz: this.tz.value.trim(),
      runNow: this.runNow.checked
    };
  }

  private readonly name: HTMLInputElement;
  private readonly cron: HTMLInputElement;
  private readonly tz: HTMLInputElement;
  private readonly runNow: HTMLInputElement;
}

/** What was made: the job, and its first run when one was asked for (or why it did not start). */
export interface INewJob {
  job: IJob;
  run: IJobRun | null;
  runError: string | null;
}

/** Whether a job of that name exists (a 404 says no; any other failure is raised). */
async function exists(api: MLOpsApi, name: string): Promise<boolean> {
  try {
    await api.job(name);
    return true;
  } catch (error) {
    if (error instanceof MLOpsApiError && (error.status === 404 || error.status === 400)) {
      return false;
    }
    throw error;
  }
}

/**
 * Ask for the job's name and schedule, then save it (and run it when asked). Null when the person cancels.
 * `notebook` is the path relative to the Jupyter root; `save` writes it to disk first (an open notebook's edits).
 */
export async function newJob(
  api: MLOpsApi,
  notebook: string,
  options: { runNow: boolean; title?: string; save?: () => Promise<void> }
): Promise<INewJob | null> {
  let values: INewJobValues = { name: jobNameFromPath(notebook), cron: '', tz: localZone(), runNow: options.runNow };
  let error: string | null = null;
  for (;;) {
    const answer = await showDialog<INewJobValues>({
      title: options.title ?? 'New job',
      body: new NewJobForm(notebook, values, error),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: values.runNow ? 'Create and run' : 'Create' })],
      focusNodeSelector: 'input'
    });
    if (!answer.button.accept || !answer.value) {
      return null;
    }
    values = answer.value;
    let job: IJob;
    try {
      if (await exists(api, values.name)) {
        const replace = await showDialog({
          title: `Replace job ${values.name}?`,
          body: `A job named ${values.name} exists: saving replaces its notebook and schedule (its runs are kept).`,
          buttons: [Dialog.cancelButton({ label: 'Back' }), Dialog.warnButton({ label: 'Replace' })]
        });
        if (!replace.button.accept) {
          error = null;
          continue;
        }
      }
      await options.save?.();
      job = await api.putJob(values.name, {
        notebook,
        cron: values.cron || null,
        ...(values.tz ? { tz: values.tz } : {})
      });
    } catch (e) {
      error = `The job was not saved: ${message(e)}`;
      continue;
    }
    if (!values.runNow) {
      return { job, run: null, runError: null };
    }
    try {
      return { job, run: await api.runJob(job.name), runError: null };
    } catch (e) {
      return { job, run: null, runError: `Job ${job.name} was saved, but its run did not start: ${message(e)}` };
    }
  }
}
