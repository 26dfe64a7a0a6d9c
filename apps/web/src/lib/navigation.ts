// Every destination of the signed-in app, in one list: the sidebar (desktop), the bottom bar and its "More" sheet (phone) read it.
import type { Pathname } from '$app/types';
import type { IconName } from './icons';

export interface NavItem {
  href: Pathname;
  label: string;
  icon: IconName;
  /** Primary items sit in the phone's bottom bar (keep it to four); secondary ones in its "More" sheet. */
  group: 'primary' | 'secondary';
  /** Shown to administrators only. */
  admin?: boolean;
}

/** In display order. A page is "current" for its own path and everything below it. */
export const navItems: readonly NavItem[] = [
  { href: '/', label: 'Library', icon: 'photos', group: 'primary' },
  { href: '/search', label: 'Search', icon: 'search', group: 'primary' },
  { href: '/albums', label: 'Albums', icon: 'albums', group: 'primary' },
  { href: '/folders', label: 'Folders', icon: 'folder', group: 'secondary' },
  { href: '/duplicates', label: 'Duplicates', icon: 'duplicates', group: 'secondary' },
  { href: '/trash', label: 'Trash', icon: 'trash', group: 'secondary' },
  { href: '/libraries', label: 'Libraries', icon: 'libraries', group: 'secondary' },
  { href: '/stats', label: 'Stats', icon: 'stats', group: 'secondary' },
  { href: '/jobs', label: 'Jobs', icon: 'jobs', group: 'secondary' },
  { href: '/backups', label: 'Backups', icon: 'backups', group: 'secondary', admin: true },
  // Shared links, users and the audit log are sections of the settings area, with its own navigation.
  { href: '/settings', label: 'Settings', icon: 'settings', group: 'secondary' },
];

/** The items a person may see. */
export function visibleNavItems(isAdmin: boolean): NavItem[] {
  return navItems.filter((item) => !item.admin || isAdmin);
}

/** Whether `pathname` is the item's page or one below it; "/" matches only itself. */
export function isCurrent(item: NavItem, pathname: string): boolean {
  if (item.href === '/') return pathname === '/';
  return pathname === item.href || pathname.startsWith(`${item.href}/`);
}
