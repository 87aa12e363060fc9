import { CreateAccounts1766519000000 } from './1766519000000-create-accounts.js';

/** The accounts module's catalog migrations (timestamps in the 176651xxxxxxx range). */
export const ACCOUNT_MIGRATIONS: Function[] = [CreateAccounts1766519000000];
