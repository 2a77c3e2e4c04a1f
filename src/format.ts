/**
 * Small text helpers shared by the panel's sections.
 */
import { MLOpsApiError } from './api';

/** What to show a person for a failure: the server's own message when it sent one. */
export function message(error: unknown): string {
  if (error instanceof MLOpsApiError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** "1 row", "2,000 rows". */
export const count = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString()} ${n === 1 ? one : many}`;
