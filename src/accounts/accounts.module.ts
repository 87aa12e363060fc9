import { Module, type DynamicModule } from '@nestjs/common';
import { ACCOUNT_AUTH } from '../auth/account-auth.js';
import { CatalogModule } from '../catalog/catalog.module.js';
import { AccountsService } from './accounts.service.js';
import { AuthController } from './auth.controller.js';

/**
 * Users, logins and API tokens. Global inside the library so the AuthGuard of every feature
 * module finds it; the login routes are mounted only where the library authenticates itself
 * (not when a host guard does).
 */
@Module({})
export class AccountsModule {
  static register(opts: { controllers: boolean }): DynamicModule {
    return {
      module: AccountsModule,
      global: true,
      imports: [CatalogModule],
      controllers: opts.controllers ? [AuthController] : [],
      providers: [AccountsService, { provide: ACCOUNT_AUTH, useExisting: AccountsService }],
      exports: [AccountsService, ACCOUNT_AUTH],
    };
  }
}
