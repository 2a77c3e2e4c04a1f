import React from 'react';

import { histogramCaption, histogramLayout, IHistogram, shareChanges } from '../monitors';

/**
 * A feature's shares of rows, reference (training data, grey bars) against current (the window, in the theme's
 * brand colour): a step line over the bars for numbers, a bar beside each for categories. Colours come from CSS
 * (monitoring.css), so both themes read it.
 */
export function Histogram(props: {
  histogram: IHistogram;
  width: number;
  height: number;
  /** What the picture shows, for a screen reader and the hover title. */
  label: string;
  className?: string;
  /** Stretch to the width of its box (the bars scale, the line keeps its width). */
  fill?: boolean;
}): JSX.Element {
  const { histogram, width, height } = props;
  const layout = histogramLayout(histogram, width, height);
  const title = [props.label, histogramCaption(histogram), ...shareChanges(histogram)].filter(Boolean).join('\n');
  return (
    <svg
      className={`mlops-Histogram ${props.className ?? ''}`}
      width={props.fill ? '100%' : width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio={props.fill ? 'none' : undefined}
      role="img"
      aria-label={props.label}
      data-testid="feature-histogram"
    >
      <title>{title}</title>
      <line className="mlops-Histogram-base" x1={0} x2={width} y1={height - 0.5} y2={height - 0.5} />
      {layout.reference.map((r, i) => (
        <rect key={`r${i}`} className="mlops-Histogram-reference" x={r.x} y={r.y} width={r.width} height={r.height} />
      ))}
      {layout.current.map((r, i) => (
        <rect key={`c${i}`} className="mlops-Histogram-current" x={r.x} y={r.y} width={r.width} height={r.height} />
      ))}
      {layout.currentPath ? <path className="mlops-Histogram-step" d={layout.currentPath} /> : null}
    </svg>
  );
}

/** The key to the histograms: grey bars the reference, the coloured mark the current window. */
export function HistogramLegend(): JSX.Element {
  return (
    <div className="mlops-HistogramLegend" aria-hidden="true">
      <svg width={10} height={10} viewBox="0 0 10 10">
        <rect className="mlops-Histogram-reference" x={1} y={2} width={8} height={8} />
      </svg>
      training data
      <svg width={14} height={10} viewBox="0 0 14 10">
        <path className="mlops-Histogram-step" d="M0 6 L14 6" />
      </svg>
      current window
    </div>
  );
}
