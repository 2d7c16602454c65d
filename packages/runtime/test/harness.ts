import { startProcess, type Child, type Teardown } from '@lzy/actors/testing';

export { tempDir, waitUntil, type Child } from '@lzy/actors/testing';

/** Starts `fixtures/<name>.js`, compiled next to these tests, in a new Node process. */
export function startFixture(t: Teardown, name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Child {
  return startProcess(t, new URL(`./fixtures/${name}.js`, import.meta.url), args, env);
}
