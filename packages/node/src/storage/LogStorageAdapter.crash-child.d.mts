/** Types for the crash-test child process's helpers (see the .mjs beside this file). */
export declare function valueFor(key: string, version: number): Uint8Array
export declare function storageKey(round: number, n: number): string[]
