import { LabIcon } from '@jupyterlab/ui-components';

// A loop of three arrows: the lifecycle drift -> retrain -> deploy.
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 3a9 9 0 0 1 8.5 6h-2.2A7 7 0 0 0 6.1 8.1L8 10H3V5l1.7 1.7A9 9 0 0 1 12 3z"/>
    <path d="M21 14v5l-1.7-1.7A9 9 0 0 1 3.5 15h2.2a7 7 0 0 0 12.2.9L16 14h5z"/>
    <circle cx="12" cy="12" r="2.5"/>
  </g>
</svg>`;

export const mlopsIcon = new LabIcon({ name: 'mlops-magics:icon', svgstr: svg });
