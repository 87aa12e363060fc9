import { CreateAccounts1766100000000 } from './1766100000000-create-accounts.js';

/** The accounts module's catalog migrations (timestamps in the 17661xxxxxxxx range). */
export const ACCOUNT_MIGRATIONS: Function[] = [CreateAccounts1766100000000];
