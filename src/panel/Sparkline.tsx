import React, { useEffect, useState } from 'react';

import { ISeries, lineLayout } from '../monitors';
import { fullTime } from '../time';

const WIDTH = 260;
const HEIGHT = 56;

/**
 * One series over the check history as a line: dots at each check, a dashed line at the model's own value (or the
 * drift threshold) and a red dashed one at the monitor's limit. The latest value, the range and the lines' meaning
 * are said in text beside it.
 */
export function Sparkline(props: { series: ISeries }): JSX.Element {
  const { series } = props;
  const layout = lineLayout(series.points, [series.reference, series.limit], WIDTH, HEIGHT);
  const latest = series.points[series.points.length - 1];
  const reference = series.reference === null ? null : layout.y(series.reference);
  const limit = series.limit === null ? null : layout.y(series.limit);
  const latestText = latest ? series.format(latest.v) : '–';
  const described = `${series.label}: ${series.points.length} checks, latest ${latestText}`;
  return (
    <div className="mlops-Sparkline" data-testid="history-chart" data-series={series.key}>
      <div className="mlops-Sparkline-plot">
        <div className="mlops-Sparkline-range" aria-hidden="true">
          <span>{series.format(layout.max)}</span>
          <span>{series.format(layout.min)}</span>
        </div>
        <svg
          className="mlops-Sparkline-svg"
          viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
          preserveAspectRatio="xMidYMid meet"
          role="img"
          aria-label={described}
        >
          <rect className="mlops-Sparkline-frame" x={0.5} y={0.5} width={WIDTH - 1} height={HEIGHT - 1} />
          {reference !== null ? (
            <line className="mlops-Sparkline-reference" x1={0} x2={WIDTH} y1={reference} y2={reference} />
          ) : null}
          {limit !== null ? <line className="mlops-Sparkline-limit" x1={0} x2={WIDTH} y1={limit} y2={limit} /> : null}
          <path className="mlops-Sparkline-line" d={layout.path} />
          {layout.dots.map((d, i) => (
            <circle key={i} className="mlops-Sparkline-dot" cx={d.x} cy={d.y} r={2.2}>
              <title>{`${fullTime(series.points[i].t)}: ${series.format(series.points[i].v)}`}</title>
            </circle>
          ))}
        </svg>
      </div>
      <div className="mlops-Sparkline-caption">
        <span className="mlops-Sparkline-latest" data-testid="history-latest">
          latest {latestText}
        </span>
        {series.reference !== null ? (
          <span className="mlops-Sparkline-key">
            <span className="mlops-Sparkline-keyReference" aria-hidden="true" />
            {series.referenceLabel}
          </span>
        ) : null}
        {series.limit !== null ? (
          <span className="mlops-Sparkline-key">
            <span className="mlops-Sparkline-keyLimit" aria-hidden="true" />
            limit {series.format(series.limit)}
          </span>
        ) : null}
      </div>
    </div>
  );
}

/** The history's series to choose from (a metric on feedback first), and the chosen one drawn. */
export function HistoryChart(props: { series: ISeries[] }): JSX.Element | null {
  const { series } = props;
  const [chosen, setChosen] = useState<string | null>(null);
  // Keep the choice while it is there; else the first series (a metric on feedback when there is one).
  const shown = series.find(s => s.key === chosen) ?? series[0];
  useEffect(() => {
    if (chosen && !series.some(s => s.key === chosen)) {
      setChosen(null);
    }
  }, [series, chosen]);
  if (!shown) {
    return null;
  }
  return (
    <div className="mlops-History">
      {series.length > 1 ? (
        <label className="mlops-History-choice">
          <span className="mlops-VisuallyHidden">Series to draw</span>
          <select
            className="mlops-Select"
            value={shown.key}
            onChange={e => setChosen(e.target.value)}
            aria-label="Series over the checks"
          >
            {series.map(s => (
              <option key={s.key} value={s.key}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <div className="mlops-History-label">{shown.label}</div>
      )}
      <Sparkline series={shown} />
    </div>
  );
}
