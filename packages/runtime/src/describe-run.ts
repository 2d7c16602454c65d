import type { RuntimeConnection } from './client.js';
import { MAX_DESCRIBE_OPS, type WorkflowDetail } from './protocol/gateway.js';

/** Run `workflowId` with all its ops, asked for page by page. */
export async function describeWholeRun(connection: RuntimeConnection, workflowId: string): Promise<Omit<WorkflowDetail, 'more'>> {
  const { more, ...detail } = await connection.describe(workflowId, 0, MAX_DESCRIBE_OPS);
  let hasMore = more;
  while (hasMore) {
    const page = await connection.describe(workflowId, detail.ops.length, MAX_DESCRIBE_OPS);
    detail.ops.push(...page.ops);
    hasMore = page.more;
  }
  return detail;
}
