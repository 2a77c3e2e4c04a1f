import React, { useState } from 'react';

import {
  effectName,
  effectShortName,
  effectText,
  formatPValue,
  formatValue,
  IFeatureDrift,
  sortFeatures
} from '../monitors';
import { Histogram, HistogramLegend } from './Histogram';
import { VerdictPill } from './VerdictPill';

/** The small histogram in a row, and the larger one a row opens. */
const SMALL = { width: 50, height: 24 };
const LARGE = { width: 260, height: 64 };
const EFFECT_TITLE =
  "The effect size the verdict rests on against its threshold, and the test's p-value (Kolmogorov-Smirnov for " +
  'numbers, chi-square for categories)';

function FeatureRow(props: { feature: IFeatureDrift; open: boolean; toggle: () => void }): JSX.Element {
  const { feature: f, open } = props;
  const id = `mlops-drift-${f.feature.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const label = `${f.feature}: training data against the current window`;
  return (
    <>
      <tr
        className={`mlops-DriftTable-row${f.verdict === 'drift' ? ' mlops-DriftTable-drifted' : ''}`}
        data-feature={f.feature}
        data-verdict={f.verdict}
        title={f.reason}
      >
        <th scope="row" className="mlops-DriftTable-feature">
          <button
            className="mlops-DriftTable-toggle"
            aria-expanded={open}
            aria-controls={id}
            onClick={props.toggle}
            title={open ? 'Hide the larger histogram' : `${f.reason}\n(click: the histogram, larger)`}
          >
            {f.feature}
          </button>
          <span className="mlops-DriftTable-kind">
            <span data-testid="feature-kind">{f.kind}</span>
            <VerdictPill verdict={f.verdict} testId="feature-verdict" />
          </span>
        </th>
        <td className="mlops-DriftTable-effect">
          {f.effect_size !== null ? (
            <>
              <span className="mlops-DriftTable-statistic" title={effectName(f.effect)}>
                {effectShortName(f.effect)}
              </span>
              <span data-testid="feature-effect">{effectText(f)}</span>
            </>
          ) : (
            <span data-testid="feature-effect">–</span>
          )}
          {f.p_value !== null ? (
            <span className="mlops-DriftTable-p">
              p <span data-testid="feature-p">{formatPValue(f.p_value)}</span>
            </span>
          ) : null}
        </td>
        <td className="mlops-DriftTable-plot">
          {f.histogram ? <Histogram histogram={f.histogram} {...SMALL} label={label} /> : null}
        </td>
      </tr>
      {open ? (
        <tr className="mlops-DriftTable-detail" id={id}>
          <td colSpan={3}>
            <div className="mlops-DriftTable-reason">{f.reason}</div>
            {f.histogram ? (
              <>
                <Histogram histogram={f.histogram} {...LARGE} label={label} className="mlops-Histogram-large" fill />
                <HistogramAxis feature={f} />
              </>
            ) : null}
            <div className="mlops-DriftTable-rows">
              {f.reference_rows.toLocaleString()} training values · {f.current_rows.toLocaleString()} in the window
            </div>
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** Under the larger histogram: the range of a numeric one, or its first and last categories. */
function HistogramAxis(props: { feature: IFeatureDrift }): JSX.Element | null {
  const h = props.feature.histogram;
  if (!h) {
    return null;
  }
  const ends = h.labels
    ? [h.labels[0], h.labels[h.labels.length - 1]]
    : h.edges && h.edges.length > 1
      ? [formatValue(h.edges[0]), formatValue(h.edges[h.edges.length - 1])]
      : null;
  if (!ends) {
    return null;
  }
  return (
    <div className="mlops-HistogramAxis">
      <span>{ends[0]}</span>
      {h.labels && h.labels.length > 2 ? <span>{h.labels.length} categories</span> : null}
      <span>{ends[1]}</span>
    </div>
  );
}

/**
 * Each feature's drift: its kind and verdict, the effect size against its threshold with the test's p-value, and a
 * small histogram of the training data against the window, in three columns to fit the side panel. Drifted features
 * come first; a feature's name opens a larger histogram.
 */
export function DriftTable(props: { features: IFeatureDrift[] }): JSX.Element {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (name: string): void =>
    setOpen(previous => {
      const next = new Set(previous);
      if (!next.delete(name)) {
        next.add(name);
      }
      return next;
    });
  return (
    <>
      <table className="mlops-DriftTable" data-testid="drift-table">
        <thead>
          <tr>
            <th scope="col" title="The feature, its kind and its verdict">
              Feature
            </th>
            <th scope="col" title={EFFECT_TITLE}>
              Effect
            </th>
            <th scope="col">
              <span className="mlops-VisuallyHidden">Histogram</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sortFeatures(props.features).map(f => (
            <FeatureRow key={f.feature} feature={f} open={open.has(f.feature)} toggle={() => toggle(f.feature)} />
          ))}
        </tbody>
      </table>
      <HistogramLegend />
    </>
  );
}
