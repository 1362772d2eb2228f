export { main, program } from "./cli.js"
export { commands, type Request } from "./commands.js"
export { UsageError } from "./errors.js"
