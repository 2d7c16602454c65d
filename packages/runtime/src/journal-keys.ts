/** The journal key of a run's workflow actor. */
export const workflowJournalKey = (workflowId: string): string => `wf:${workflowId}`;
/** The journal key of a run's graph. */
export const graphJournalKey = (workflowId: string): string => `graph:${workflowId}`;
/** The run a journal key belongs to, if it is one of a run's keys. */
export function runOfJournalKey(key: string): string | undefined {
  return /^(?:wf|graph):(.+)$/.exec(key)?.[1];
}
