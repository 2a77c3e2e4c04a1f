/**
 * The Cluster section's pure helpers: the start form as a cluster spec's gateway options and as the `%cluster start`
 * line it stands for (no DOM, so jest tests them in Node).
 */

/** Where the panel's cluster runs: a LocalCluster on this machine, or a cluster from a Dask Gateway. */
export type Where = 'local' | 'gateway';
export type GatewayAuth = 'none' | 'simple' | 'jupyterhub' | 'kerberos';
export type OptionValue = boolean | number | string;

/**
 * `worker_cores=2 worker_memory=4 image=repo/img:1` as the gateway's options: a number or true/false as such,
 * anything else as text (as `--option NAME=VALUE` reads them). Throws one line naming a word that is no pair.
 */
export function parseGatewayOptions(text: string): Record<string, OptionValue> {
  const options: Record<string, OptionValue> = {};
  for (const word of text.split(/[\s,]+/).filter(Boolean)) {
    const at = word.indexOf('=');
    if (at <= 0) {
      throw new Error(`gateway option '${word}' is not NAME=VALUE, e.g. worker_cores=2`);
    }
    const value = word.slice(at + 1);
    const number = Number(value);
    options[word.slice(0, at)] =
      value === 'true' || value === 'false'
        ? value === 'true'
        : value.trim() !== '' && Number.isFinite(number)
          ? number
          : value;
  }
  return options;
}

/** The `%cluster start` line the form describes, for "Start in notebook". */
export function startMagic(
  where: Where,
  form: { workers: string; threads: string; memory: string; gateway: string; options: string; auth: string }
): string {
  if (where === 'local') {
    return `%cluster start --workers ${Number(form.workers)} --threads ${Number(form.threads)} --memory ${form.memory}`;
  }
  const parts = ['%cluster start --gateway'];
  if (form.gateway.trim()) {
    parts.push(form.gateway.trim());
  }
  parts.push(`--workers ${Number(form.workers)}`);
  for (const [key, value] of Object.entries(parseGatewayOptions(form.options))) {
    parts.push(`--option ${key}=${value}`);
  }
  if (form.auth) {
    parts.push(`--auth ${form.auth}`);
  }
  return parts.join(' ');
}
