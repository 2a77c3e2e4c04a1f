/**
 * A profile's saved report in a main-area tab: the HTML is fetched through the API (so the server's auth applies)
 * and shown in a sandboxed srcdoc frame, one tab per profile and report kind.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IProfileSummary, MLOpsApi, MLOpsApiError, ProfileReportKind } from './api';
import { mlopsIcon } from './icon';

/** What a report tab needs to know about its profile. */
export type IReportTarget = Pick<IProfileSummary, 'id' | 'title'>;

/** Mirrors the CSP the report route sends: a srcdoc frame does not get the response's headers. */
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
/**
 * The full (ydata-profiling) report needs its inline scripts for its tabs and toggles: they run in a frame of
 * its own opaque origin (no allow-same-origin), so they cannot reach the lab, its cookies or its storage, and the
 * policy lets them load nothing from anywhere.
 */
const FULL_REPORT_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:";

/**
 * Put markup at the start of the page's head, so that a CSP meta covers everything after it: after `<head>`, else
 * after `<html>`, else after the doctype (markup before the doctype would put the page in quirks mode).
 */
export function intoHead(page: string, markup: string): string {
  for (const tag of [/<head(\s[^>]*)?>/i, /<html(\s[^>]*)?>/i, /^\s*<!doctype[^>]*>/i]) {
    const found = tag.exec(page);
    if (found) {
      const at = found.index + found[0].length;
      return page.slice(0, at) + markup + page.slice(at);
    }
  }
  return markup + page;
}

/**
 * The compact report styles itself with JupyterLab's theme variables (with light fallbacks); a frame does not
 * inherit them, so hand it the current theme's values of those it uses.
 */
export function themed(page: string, style: CSSStyleDeclaration, light: boolean): string {
  const names = new Set(Array.from(page.matchAll(/var\(\s*(--jp-[\w-]+)/g), m => m[1]));
  const values = Array.from(names)
    .map(name => [name, style.getPropertyValue(name).trim()] as const)
    .filter(([, value]) => value !== '' && !/[<>{};]/.test(value))
    .map(([name, value]) => `${name}:${value};`)
    .join('');
  const background = style.getPropertyValue('--jp-layout-color1').trim();
  const root = `:root{${values}color-scheme:${light ? 'light' : 'dark'};}`;
  const backdrop = background && !/[<>{};]/.test(background) ? `html{background:${background};}` : '';
  return intoHead(page, `<style>${root}${backdrop}</style>`);
}

/** The content of a report tab: one sandboxed frame, refilled when the theme changes. */
export class ProfileReportView extends Widget {
  constructor(
    private readonly api: MLOpsApi,
    readonly target: IReportTarget,
    readonly which: ProfileReportKind
  ) {
    super();
    this.addClass('mlops-Report');
    this.frame = document.createElement('iframe');
    this.frame.className = 'mlops-Report-frame';
    // No allow-same-origin ever: the page gets an opaque origin. Only the full report may run its own scripts.
    this.frame.setAttribute('sandbox', which === 'full' ? 'allow-scripts' : '');
    this.frame.title = `Profile report: ${target.title}`;
    this.message = document.createElement('div');
    this.message.className = 'mlops-Report-message';
    this.node.append(this.message, this.frame);
  }

  /** Fetch the report and show it; a failure is said in the tab. */
  async load(): Promise<void> {
    this.say('Loading the report…');
    try {
      this.page = await this.api.profileReport(this.target.id, this.which);
      this.render();
    } catch (error) {
      const text = error instanceof MLOpsApiError ? error.message : String(error);
      this.say(`The report could not be loaded: ${text}`, true);
    }
  }

  /** Fill the frame again with the current theme's colours (after a theme change). */
  render(): void {
    if (this.page === null) {
      return;
    }
    let page = this.page;
    if (this.which === 'report') {
      const light = document.body.dataset.jpThemeLight !== 'false';
      page = themed(page, getComputedStyle(document.body), light);
    }
    const csp = this.which === 'full' ? FULL_REPORT_CSP : REPORT_CSP;
    this.frame.srcdoc = intoHead(page, `<meta http-equiv="Content-Security-Policy" content="${csp}">`);
    this.message.hidden = true;
    this.frame.hidden = false;
  }

  private say(text: string, error = false): void {
    this.message.textContent = text;
    this.message.classList.toggle('mlops-Error', error);
    this.message.hidden = false;
    this.frame.hidden = true;
  }

  private readonly frame: HTMLIFrameElement;
  private readonly message: HTMLDivElement;
  private page: string | null = null;
}

function widgetId(id: string, which: ProfileReportKind): string {
  return `mlops-profile-${which}-${id}`;
}

/** Opens report tabs, reusing the open tab of a profile rather than opening another. */
export class ReportOpener {
  constructor(
    private readonly api: MLOpsApi,
    private readonly addToMainArea: (widget: MainAreaWidget<ProfileReportView>) => void,
    private readonly activate: (id: string) => void
  ) {}

  /** The open report tabs. */
  get widgets(): MainAreaWidget<ProfileReportView>[] {
    return Array.from(this.open.values());
  }

  openReport(target: IReportTarget, which: ProfileReportKind = 'report'): MainAreaWidget<ProfileReportView> {
    const id = widgetId(target.id, which);
    const existing = this.open.get(id);
    if (existing && !existing.isDisposed) {
      this.activate(id);
      return existing;
    }
    const content = new ProfileReportView(this.api, target, which);
    const widget = new MainAreaWidget({ content });
    widget.id = id;
    widget.title.label = `Profile: ${target.title}${which === 'full' ? ' (full)' : ''}`;
    widget.title.caption = `Data profile ${target.id}${which === 'full' ? ', full report' : ''}`;
    widget.title.icon = mlopsIcon;
    widget.title.closable = true;
    widget.addClass('mlops-ReportTab');
    this.open.set(id, widget);
    widget.disposed.connect(() => this.open.delete(id));
    this.addToMainArea(widget);
    this.activate(id);
    void content.load();
    return widget;
  }

  /** Refill every open report with the new theme's colours. */
  rethemeAll(): void {
    for (const widget of this.open.values()) {
      widget.content.render();
    }
  }

  private readonly open = new Map<string, MainAreaWidget<ProfileReportView>>();
}
