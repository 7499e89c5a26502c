/** The Microsoft emulator (Entra ID v2, Graph and EWS) as a library: tests start it in-process with startEmulator. */
export { startEmulator, type EmulatorDescription, type EmulatorOptions, type StartedEmulator } from "./server.js";
export { allApplicationPermissions, allDelegatedPermissions, defaultSeed, type Seed, type SeedClient, type SeedTenant, type SeedUser } from "./seed.js";
export type { AccessTokenClaims } from "./tokens.js";
export type { EmulatorState } from "./state.js";
