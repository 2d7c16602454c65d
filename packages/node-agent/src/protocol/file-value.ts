/**
 * The mark of a file value (`LzyFile`): a method answering the file's path on this machine, or
 * undefined when it is not here yet. A symbol of the global registry, so that a copy of the class
 * bundled with an op's module is recognized too. In a module of its own, which imports nothing, so
 * that an op's bundle that brings `LzyFile` brings no codec or schema code with it.
 */
export const FILE_VALUE = Symbol.for('lzy.file');
