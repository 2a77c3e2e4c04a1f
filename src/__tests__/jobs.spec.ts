import type { IJobRun } from '../api';
import {
  changedParameters,
  defaultText,
  formatDuration,
  isActive,
  jobNameFromPath,
  parameterFields,
  runLine,
  runProgress,
  runSeconds,
  triggerText,
  untilText,
  valueText
} from '../jobs';

/** A run as GET /mlops/api/jobs/{name}/runs/{number} sends it (mlops_magics/api/jobs.py JobRun). */
function run(overrides: Partial<IJobRun> = {}): IJobRun {
  return {
    job: 'retrain',
    number: 3,
    state: 'succeeded',
    reason: null,
    trigger: 'manual',
    trigger_detail: null,
    parameters: {},
    attempt: 1,
    cells_done: 5,
    cells_total: 5,
    queued_at: '2026-05-01T06:00:00+00:00',
    started_at: '2026-05-01T06:00:01+00:00',
    finished_at: '2026-05-01T06:00:05+00:00',
    duration_s: 4.2,
    output: 'jobs/retrain/runs/3/retrain.ipynb',
    log: 'jobs/retrain/runs/3/run.log',
    failed_cell: null,
    ...overrides
  };
}

describe('formatDuration', () => {
  it('says short runs to a tenth of a second, longer ones in s, min and h', () => {
    expect(formatDuration(0.04)).toBe('0.0 s');
    expect(formatDuration(4.25)).toBe('4.3 s');
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(60)).toBe('1 min');
    expect(formatDuration(185)).toBe('3 min 5 s');
    expect(formatDuration(3600)).toBe('1 h');
    expect(formatDuration(7500)).toBe('2 h 5 min');
  });

  it('says nothing of a negative or unknown duration', () => {
    expect(formatDuration(-1)).toBe('');
    expect(formatDuration(NaN)).toBe('');
  });
});

describe('untilText', () => {
  const now = Date.parse('2026-12-01T18:00:00Z');
  const at = (seconds: number): number => now + seconds * 1000;

  it('says how long until a time ahead, in its largest whole unit', () => {
    expect(untilText(at(40.7), now)).toBe('in 40 s');
    expect(untilText(at(60), now)).toBe('in 1 min');
    expect(untilText(at(12 * 60 + 59), now)).toBe('in 12 min');
    // Ten hours ahead is not "next year" (JupyterLab's Time.formatHuman rounds up).
    expect(untilText(at(11 * 3600), now)).toBe('in 11 h');
    expect(untilText(at(3 * 86400 + 5), now)).toBe('in 3 d');
  });

  it('says now once the time is due or past', () => {
    expect(untilText(at(0.5), now)).toBe('now');
    expect(untilText(at(-30), now)).toBe('now');
  });
});

describe('runSeconds', () => {
  const now = Date.parse('2026-05-01T06:00:31+00:00');

  it('is the duration of an ended run', () => {
    expect(runSeconds(run(), now)).toBe(4.2);
  });

  it('counts a running run up to now', () => {
    expect(runSeconds(run({ state: 'running', duration_s: null, finished_at: null }), now)).toBe(30);
  });

  it('is null for a run that has not started, or ended without a duration', () => {
    expect(runSeconds(run({ state: 'queued', started_at: null, duration_s: null }), now)).toBeNull();
    expect(runSeconds(run({ state: 'cancelled', duration_s: null }), now)).toBeNull();
  });
});

describe('runProgress', () => {
  it('is the share of cells done', () => {
    expect(runProgress(run({ state: 'running', cells_done: 2, cells_total: 8 }))).toEqual({
      done: 2,
      total: 8,
      fraction: 0.25,
      label: '2 / 8 cells'
    });
  });

  it('has no share while the total is unknown', () => {
    expect(runProgress(run({ state: 'queued', cells_done: 0, cells_total: null }))).toMatchObject({
      fraction: null,
      label: 'queued'
    });
    expect(runProgress(run({ state: 'running', cells_done: 1, cells_total: null })).label).toBe('1 cell done');
    expect(runProgress(run({ state: 'running', cells_done: 2, cells_total: null })).label).toBe('2 cells done');
  });

  it('is whole for a notebook without cells, and never more than whole', () => {
    expect(runProgress(run({ cells_done: 0, cells_total: 0 })).fraction).toBe(1);
    expect(runProgress(run({ cells_done: 6, cells_total: 5 })).fraction).toBe(1);
  });
});

describe('triggerText and runLine', () => {
  it('names what started a run', () => {
    expect(triggerText(run())).toBe('run now');
    expect(triggerText(run({ trigger: 'token' }))).toBe('API token');
    expect(triggerText(run({ trigger: 'cron', trigger_detail: '2026-05-01T06:00:00+02:00' }))).toBe(
      'cron 2026-05-01 06:00'
    );
    expect(triggerText(run({ trigger: 'cron', trigger_detail: '2026-05-01T06:00:10.500000Z' }))).toBe(
      'cron 2026-05-01 06:00:10'
    );
    expect(triggerText(run({ trigger: 'data', trigger_detail: 'data/new.parquet' }))).toBe('new file data/new.parquet');
    expect(triggerText(run({ trigger: 'event', trigger_detail: 'alert:drift' }))).toBe('event alert:drift');
  });

  it('puts number, state, trigger and duration on one line', () => {
    expect(runLine(run(), 0)).toBe('#3 succeeded · run now · 4.2 s');
    expect(runLine(run({ state: 'timed_out', duration_s: 600 }), 0)).toBe('#3 timed out · run now · 10 min');
    expect(runLine(run({ state: 'queued', started_at: null, duration_s: null }), 0)).toBe('#3 queued · run now');
  });

  it('treats queued and running runs as active, the others as ended', () => {
    expect(['queued', 'running'].every(s => isActive(s as IJobRun['state']))).toBe(true);
    expect(['succeeded', 'failed', 'timed_out', 'cancelled'].some(s => isActive(s as IJobRun['state']))).toBe(false);
  });
});

describe('the Run now form', () => {
  it('types a default as one would type it on a command line', () => {
    expect(defaultText('str', "'eu-west'")).toBe('eu-west');
    expect(defaultText('str', '"eu-west"')).toBe('eu-west');
    // Not a plain literal: shown as written (the field is sent only when changed).
    expect(defaultText('str', "'it\\'s'")).toBe("'it\\'s'");
    expect(defaultText('str', "f'{x}'")).toBe("f'{x}'");
    expect(defaultText('bool', 'True')).toBe('true');
    expect(defaultText('bool', 'False')).toBe('false');
    expect(defaultText('none', 'None')).toBe('');
    expect(defaultText('float', '0.5')).toBe('0.5');
    expect(defaultText('list', '[1, 2]')).toBe('[1, 2]');
  });

  it('writes a JSON value as text: a string as is', () => {
    expect(valueText('eu')).toBe('eu');
    expect(valueText(0.1)).toBe('0.1');
    expect(valueText(false)).toBe('false');
    expect(valueText({ a: [1] })).toBe('{"a":[1]}');
  });

  it("starts each field from the job's own value, else the notebook's default", () => {
    const fields = parameterFields(
      { alpha: 'float = 0.5', region: "str = 'eu'", debug: 'bool = False', grid: 'any = np.arange(3)' },
      { alpha: 0.1 }
    );
    expect(fields).toEqual([
      { name: 'alpha', kind: 'float', written: '0.5', initial: '0.1' },
      { name: 'region', kind: 'str', written: "'eu'", initial: 'eu' },
      { name: 'debug', kind: 'bool', written: 'False', initial: 'false' },
      { name: 'grid', kind: 'any', written: 'np.arange(3)', initial: 'np.arange(3)' }
    ]);
    expect(parameterFields({}, undefined)).toEqual([]);
  });

  it('keeps a default that itself holds " = "', () => {
    expect(parameterFields({ query: "str = 'a = b'" }, {})[0]).toMatchObject({ kind: 'str', initial: 'a = b' });
  });

  it('sends only the fields changed', () => {
    const fields = parameterFields({ alpha: 'float = 0.5', region: "str = 'eu'", grid: 'any = np.arange(3)' }, {});
    expect(changedParameters(fields, { alpha: '0.5', region: 'us', grid: 'np.arange(3)' })).toEqual({ region: 'us' });
    expect(changedParameters(fields, { alpha: '0.5', region: 'eu', grid: 'np.arange(3)' })).toEqual({});
    // An emptied field is a change: the empty string, for a str parameter.
    expect(changedParameters(fields, { region: '' })).toEqual({ region: '' });
  });
});

describe('jobNameFromPath', () => {
  it("makes a valid job name of a notebook's file name", () => {
    expect(jobNameFromPath('retrain.ipynb')).toBe('retrain');
    expect(jobNameFromPath('work/My Model (v2).ipynb')).toBe('my-model-v2');
    expect(jobNameFromPath('_private.ipynb')).toBe('private');
    expect(jobNameFromPath('données.ipynb')).toBe('donn-es');
    expect(jobNameFromPath('x'.repeat(80) + '.ipynb')).toHaveLength(63);
    expect(jobNameFromPath('---.ipynb')).toBe('job');
  });
});
