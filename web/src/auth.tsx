// The signed-in user: session tokens (renewed with the refresh token) and their account.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, getSession, ok, onSession, setSession, type Schemas } from "./api/client";

type User = Schemas["UserView"];

interface Auth {
  user: User | null;
  ready: boolean;
  signIn: (pair: Schemas["TokenPair"]) => void;
  signOut: () => Promise<void>;
  reload: () => Promise<void>;
}

const Ctx = createContext<Auth>({
  user: null,
  ready: false,
  signIn: () => {},
  signOut: async () => {},
  reload: async () => {},
});

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [ready, setReady] = useState(false);

  const reload = useCallback(async () => {
    if (!getSession()) {
      setUser(null);
      setReady(true);
      return;
    }
    try {
      setUser(await ok(api.GET("/api/v1/me")));
    } catch {
      setUser(null);
    } finally {
      setReady(true);
    }
  }, []);

  useEffect(() => {
    void reload();
    return onSession((s) => {
      if (!s) setUser(null);
    });
  }, [reload]);

  const signIn = (pair: Schemas["TokenPair"]) => {
    setSession({ access_token: pair.access_token, refresh_token: pair.refresh_token });
    setUser(pair.user);
    setReady(true);
  };

  const signOut = async () => {
    const s = getSession();
    if (s) {
      try {
        await api.POST("/api/v1/auth/logout", { body: { refresh_token: s.refresh_token } });
      } catch {
        /* signed out locally anyway */
      }
    }
    setSession(null);
  };

  return <Ctx.Provider value={{ user, ready, signIn, signOut, reload }}>{children}</Ctx.Provider>;
}

export const useAuth = () => useContext(Ctx);
