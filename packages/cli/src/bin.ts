/**
 * The `socketserver` executable (started through bin/socketserver.js).
 *
 * @module
 */

import { main } from './main.js'

const status = await main(process.argv.slice(2))
// Exit now rather than wait for lingering closes of finished connections.
process.stdout.write('', () => process.exit(status))
