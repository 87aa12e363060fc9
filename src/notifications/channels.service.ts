import { Inject, Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Repository } from 'typeorm';
import type { Actor } from '../auth/roles.js';
import { CATALOG_CONNECTION } from '../catalog/catalog.js';
import { isUniqueViolation } from '../catalog/unique-violation.js';
import { APP_EVENTS } from '../common/app-events.js';
import { DomainError, ErrorCode, invalid } from '../common/errors.js';
import { findByIdOrPrefix, isUuid } from '../common/ids.js';
import { BACKUP_MANAGER_OPTIONS, type BackupManagerOptions } from '../config/options.js';
import {
  channelProblems,
  configChannelId,
  effectiveEvents,
  SECRET_FIELDS,
  urlHint,
  type ChannelDefinition,
  type ChannelSecrets,
  type ChannelSettings,
} from './channel-kinds.js';
import type { ChannelInput } from './dto/notifications.dto.js';
import { NotificationChannel } from './entities/notification-channel.entity.js';
import { DEFAULT_EVENTS } from './notification-events.js';
import { splitChannelConfig } from './notification-options.js';

/** Domain events of channel changes (audited; they carry no secret). */
export const ChannelEvents = {
  Created: 'notification.channel.created',
  Updated: 'notification.channel.updated',
  Deleted: 'notification.channel.deleted',
  Tested: 'notification.channel.tested',
} as const;

/** A channel as the API shows it: settings, never secrets (only which ones are set). */
export interface ChannelView {
  id: string;
  name: string;
  kind: string;
  source: 'api' | 'config';
  enabled: boolean;
  events: string[];
  defaultEvents: boolean;
  settings: ChannelSettings & { url?: string };
  secretsSet: string[];
  createdAt: Date | null;
  updatedAt: Date | null;
}

const SETTING_FIELDS: Array<keyof ChannelSettings> = ['host', 'port', 'security', 'username', 'from', 'to', 'caCertificate', 'chatId', 'apiUrl'];

/**
 * Channels from the API (catalog) and from configuration (options, read-only). The only code that
 * reads a channel's secrets is the sender's; everything that leaves goes through `view()`.
 */
@Injectable()
export class ChannelsService {
  private readonly configured: ChannelDefinition[];

  constructor(
    @InjectRepository(NotificationChannel, CATALOG_CONNECTION) private readonly channels: Repository<NotificationChannel>,
    @Inject(BACKUP_MANAGER_OPTIONS) options: BackupManagerOptions,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
  ) {
    this.configured = (options.notifications?.channels ?? []).map((c) => {
      const { settings, secrets, secretFiles } = splitChannelConfig(c);
      return { id: configChannelId(c.name), name: c.name, kind: c.kind, enabled: c.enabled ?? true, events: c.events ?? null, settings, secrets, secretFiles, source: 'config' as const };
    });
  }

  /** Every channel, configured ones first. */
  async all(): Promise<ChannelDefinition[]> {
    const stored = await this.channels.find({ order: { name: 'ASC' } });
    return [...this.configured, ...stored.map(definitionOf)];
  }

  /** Enabled channels subscribed to `event`. */
  async subscribedTo(event: string): Promise<ChannelDefinition[]> {
    return (await this.all()).filter((c) => c.enabled && effectiveEvents(c, DEFAULT_EVENTS).includes(event));
  }

  /** Whether any enabled channel wants `event` (the monitors skip work nobody would hear of). */
  async anySubscribed(event: string): Promise<boolean> {
    return (await this.subscribedTo(event)).length > 0;
  }

  /** A channel by id (or short id); configured ones by their id. */
  async get(id: string): Promise<ChannelDefinition> {
    const configured = this.configured.find((c) => c.id === id || (id.length >= 8 && c.id.startsWith(id.toLowerCase())));
    if (configured) return configured;
    return definitionOf(await findByIdOrPrefix(this.channels, id, 'Channel', ErrorCode.ChannelNotFound));
  }

  /** The channel with this id if it still exists (deliveries of deleted channels end there). */
  async find(id: string): Promise<ChannelDefinition | undefined> {
    const configured = this.configured.find((c) => c.id === id);
    if (configured) return configured;
    if (!isUuid(id)) return undefined;
    const row = await this.channels.findOneBy({ id });
    return row ? definitionOf(row) : undefined;
  }

  async create(input: ChannelInput, actor?: Actor): Promise<ChannelDefinition> {
    const { settings, secrets } = split(input);
    this.check({ name: input.name, kind: input.kind, events: input.events, settings, secrets });
    this.refuseConfiguredName(input.name);
    const row: NotificationChannel = {
      id: randomUUID(),
      name: input.name,
      kind: input.kind!,
      enabled: input.enabled ?? true,
      events: input.events ?? null,
      settings,
      secrets,
      createdBy: actor?.sub.slice(0, 128) ?? null,
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    try {
      await this.channels.insert(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DomainError(ErrorCode.ChannelNameTaken, `A channel named "${input.name}" already exists`);
      throw err;
    }
    const saved = definitionOf(await this.channels.findOneByOrFail({ id: row.id }));
    this.events.emit(ChannelEvents.Created, { channel: this.view(saved), actor });
    return saved;
  }

  /** Changes the fields given; secrets not given stay, `null` clears an optional one. */
  async update(id: string, input: Partial<ChannelInput>, actor?: Actor): Promise<ChannelDefinition> {
    const current = await this.get(id);
    this.refuseConfigured(current, 'changed');
    if (input.kind !== undefined && input.kind !== current.kind) throw invalid(`kind cannot be changed (it is ${current.kind}); create a new channel instead`);
    const { settings: given, secrets: givenSecrets, cleared } = split(input);
    const settings: ChannelSettings = { ...current.settings, ...given };
    const secrets: ChannelSecrets = { ...current.secrets, ...givenSecrets };
    for (const f of cleared) {
      delete (settings as Record<string, unknown>)[f];
      delete (secrets as Record<string, unknown>)[f];
    }
    const name = input.name ?? current.name;
    const events = input.events === undefined ? current.events : input.events;
    this.check({ name, kind: current.kind, events, settings, secrets });
    if (name !== current.name) this.refuseConfiguredName(name);
    try {
      await this.channels.update({ id: current.id }, { name, enabled: input.enabled ?? current.enabled, events, settings, secrets, updatedAt: new Date() });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DomainError(ErrorCode.ChannelNameTaken, `A channel named "${name}" already exists`);
      throw err;
    }
    const saved = definitionOf(await this.channels.findOneByOrFail({ id: current.id }));
    const changed = [...Object.keys(input)].filter((k) => (input as Record<string, unknown>)[k] !== undefined);
    this.events.emit(ChannelEvents.Updated, { channel: this.view(saved), actor, detail: { changed: changed.map((k) => ((SECRET_FIELDS as readonly string[]).includes(k) ? `${k} (write-only)` : k)) } });
    return saved;
  }

  async remove(id: string, actor?: Actor): Promise<ChannelDefinition> {
    const current = await this.get(id);
    this.refuseConfigured(current, 'deleted');
    await this.channels.delete({ id: current.id });
    this.events.emit(ChannelEvents.Deleted, { channel: this.view(current), actor });
    return current;
  }

  /** What the API shows of a channel. */
  view(c: ChannelDefinition, stored?: { createdAt: Date; updatedAt: Date }): ChannelView {
    const settings: ChannelSettings & { url?: string } = {};
    for (const f of SETTING_FIELDS) if (c.settings[f] !== undefined && c.settings[f] !== null) (settings as Record<string, unknown>)[f] = c.settings[f];
    const hint = urlHint(c.secrets.url);
    if (hint) settings.url = hint;
    return {
      id: c.id,
      name: c.name,
      kind: c.kind,
      source: c.source,
      enabled: c.enabled,
      events: effectiveEvents(c, DEFAULT_EVENTS),
      defaultEvents: c.events === null,
      settings,
      secretsSet: SECRET_FIELDS.filter((f) => !!c.secrets[f] || !!c.secretFiles?.[f]),
      createdAt: stored?.createdAt ?? (c as ChannelDefinition & { createdAt?: Date }).createdAt ?? null,
      updatedAt: stored?.updatedAt ?? (c as ChannelDefinition & { updatedAt?: Date }).updatedAt ?? null,
    };
  }

  private check(c: Parameters<typeof channelProblems>[0]): void {
    const problems = channelProblems(c);
    if (problems.length) throw invalid(problems.join('; '));
  }

  private refuseConfigured(c: ChannelDefinition, what: string): void {
    if (c.source === 'config') {
      throw new DomainError(ErrorCode.ChannelReadOnly, `Channel "${c.name}" comes from the configuration (NOTIFY_CHANNELS or notifications.channels) and cannot be ${what} through the API; change the configuration instead`);
    }
  }

  private refuseConfiguredName(name: string): void {
    if (this.configured.some((c) => c.name === name)) throw new DomainError(ErrorCode.ChannelNameTaken, `A configured channel is named "${name}"; choose another name`);
  }
}

function definitionOf(row: NotificationChannel): ChannelDefinition & { createdAt: Date; updatedAt: Date } {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    enabled: row.enabled,
    events: row.events,
    settings: row.settings ?? {},
    secrets: row.secrets ?? {},
    source: 'api',
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A request's fields split into settings and secrets; `null` values are the fields to clear. */
function split(input: Partial<ChannelInput>): { settings: ChannelSettings; secrets: ChannelSecrets; cleared: string[] } {
  const settings: ChannelSettings = {};
  const secrets: ChannelSecrets = {};
  const cleared: string[] = [];
  const raw = input as Record<string, unknown>;
  for (const f of SETTING_FIELDS) {
    if (raw[f] === null) cleared.push(f);
    else if (raw[f] !== undefined) (settings as Record<string, unknown>)[f] = raw[f];
  }
  for (const f of SECRET_FIELDS) {
    if (raw[f] === null) cleared.push(f);
    else if (raw[f] !== undefined) secrets[f] = raw[f] as string;
  }
  return { settings, secrets, cleared };
}
