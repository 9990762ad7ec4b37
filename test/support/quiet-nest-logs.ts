import { Logger } from '@nestjs/common';

// Unit suites drive services that log as they work (a swap, a settings change); their output
// would bury Jest's. A suite that asserts on logs installs its own logger (overrideLogger).
// KEEL_TEST_LOGS=1 shows them.
if (!process.env.KEEL_TEST_LOGS) Logger.overrideLogger(false);
