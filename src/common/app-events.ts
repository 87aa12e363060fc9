import { EventEmitter2 } from '@nestjs/event-emitter';

/**
 * The app's EventEmitter2 as the library's services inject it. The library never imports
 * `EventEmitterModule.forRoot()` itself (a second global emitter would split the app's listeners);
 * injecting this token instead of the class turns a missing module into one clear start-up error
 * rather than Nest's "can't resolve dependencies" about some service deep inside the library.
 */
export const APP_EVENTS = Symbol('BACKUP_MANAGER_APP_EVENTS');

export function appEvents(emitter?: EventEmitter2): EventEmitter2 {
  if (!emitter) {
    throw new Error(
      'backup-manager: the app does not import EventEmitterModule.forRoot() from @nestjs/event-emitter. ' +
        'Import it once in your app module: the library emits its events on the app\'s emitter, where your @OnEvent handlers hear them.',
    );
  }
  return emitter;
}
