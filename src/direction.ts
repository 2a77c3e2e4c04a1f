/**
 * Which way a metric points. The server holds the one list (mlops_magics/train/direction.py) and sends it in GET
 * /mlops/api/status as `higher_is_better`: the panel judges runs the way training and review do.
 */
import type { IStatus } from './api';

/** The metrics that are better large; every other metric is better small. */
export type HigherIsBetter = ReadonlySet<string>;

/**
 * GET /mlops/api/status as it may come: a server extension older than the panel (upgraded without a restart)
 * does not send the list (api/openapi.yaml, Status.higher_is_better).
 */
export type IStatusWithDirection = Omit<IStatus, 'higher_is_better'> & { higher_is_better?: unknown };

/** The metric's name without its split prefix (eval_, train_, champion_, challenger_, …). */
export function baseMetric(name: string): string {
  return name.replace(/^(eval|train|test|val|valid|champion|challenger)_/, '');
}

/** Whether a larger value of the metric is better: eval_accuracy points the way accuracy does. */
export function higherIsBetter(name: string, higher: HigherIsBetter): boolean {
  return higher.has(baseMetric(name)) || higher.has(name);
}

/** The list from the server's status; an error a person can act on when the server does not send it. */
export function higherIsBetterFrom(status: IStatusWithDirection): HigherIsBetter {
  const names = status.higher_is_better;
  if (!Array.isArray(names) || !names.every(name => typeof name === 'string')) {
    // A server extension older than the panel (upgraded without restarting JupyterLab) does not send it.
    throw new Error(
      'the server did not say which metrics are better large (no higher_is_better in /mlops/api/status): ' +
        'restart JupyterLab'
    );
  }
  return new Set(names);
}
