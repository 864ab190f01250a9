package api

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/operations"
	"github.com/quotad/quotad/tiers"
)

// OperationView is an operation cost rule as the admin API shows it.
type OperationView struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Cost   int64  `json:"cost"`
}

// operationInput is the body of POST and PUT on operations; pointers tell
// a missing field from a zero one.
type operationInput struct {
	Name   *string `json:"name"`
	Method *string `json:"method"`
	Path   *string `json:"path"`
	Cost   *int64  `json:"cost"`
}

func operationView(r operations.Rule) OperationView {
	return OperationView{Name: r.Name, Method: r.Method, Path: r.Path, Cost: r.Cost}
}

// decodeOperation reads a rule body strictly. pathName is the rule named
// by the path (PUT), which the body may repeat but not contradict; "" for
// POST, whose body names the rule. Every field is required: PUT replaces
// the whole rule.
func decodeOperation(c echo.Context, limit int64, pathName string) (operations.Rule, error) {
	var in operationInput
	if err := decodeJSON(c, limit, &in); err != nil {
		return operations.Rule{}, err
	}
	r := operations.Rule{Name: pathName}
	if in.Name != nil {
		if pathName != "" && *in.Name != pathName {
			return operations.Rule{}, invalid("the name in the body differs from the path", map[string]string{"name": "must match the path"})
		}
		r.Name = *in.Name
	}
	bad := map[string]string{}
	if r.Name == "" {
		bad["name"] = "is required"
	}
	for field, v := range map[string]*string{"method": in.Method, "path": in.Path} {
		if v == nil {
			bad[field] = "is required"
		}
	}
	if in.Cost == nil {
		bad["cost"] = "is required"
	}
	if len(bad) > 0 {
		return operations.Rule{}, invalid("invalid input", bad)
	}
	r.Method, r.Path, r.Cost = *in.Method, *in.Path, *in.Cost
	return r, nil
}

// operationError maps the operations package's errors to HTTP.
func operationError(err error) error {
	var ve *operations.ValidationError
	switch {
	case errors.As(err, &ve):
		return invalid("invalid input", ve.Fields)
	case errors.Is(err, operations.ErrNotFound):
		return NewError(http.StatusNotFound, CodeNotFound, "not found")
	case errors.Is(err, operations.ErrConflict):
		return NewError(http.StatusConflict, CodeConflict, "an operation with that name already exists")
	case errors.Is(err, operations.ErrDuplicate):
		return NewError(http.StatusConflict, CodeConflict, "another operation has that method and path")
	case errors.Is(err, operations.ErrUnavailable):
		he := NewError(http.StatusServiceUnavailable, CodeUnavailable, "a backing service is unavailable; try again shortly")
		he.Internal = err
		return he
	}
	return domainError(err)
}

// operationsAs is the operations store writing on behalf of the caller,
// as s.as is for tiers.
func (s *server) operationsAs(c echo.Context) *operations.Store {
	id, _ := IdentityFrom(c)
	return s.cfg.Operations.As(tiers.Audit{Actor: id.ClientID, RequestID: c.Response().Header().Get(echo.HeaderXRequestID)})
}

// withOperations answers 404 on the operation routes of a server built
// without Config.Operations.
func (s *server) withOperations(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.Operations == nil {
			return echo.ErrNotFound
		}
		return h(c)
	}
}

func (s *server) listOperations(c echo.Context) error {
	rs, err := s.cfg.Operations.List(c.Request().Context())
	if err != nil {
		return operationError(err)
	}
	views := make([]OperationView, len(rs))
	for i, r := range rs {
		views[i] = operationView(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"operations": views})
}

func (s *server) createOperation(c echo.Context) error {
	r, err := decodeOperation(c, s.cfg.BodyLimit, "")
	if err != nil {
		return err
	}
	created, err := s.operationsAs(c).Create(c.Request().Context(), r)
	if err != nil {
		return operationError(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/admin/operations/"+url.PathEscape(created.Name))
	return c.JSON(http.StatusCreated, operationView(created))
}

func (s *server) getOperation(c echo.Context) error {
	r, err := s.cfg.Operations.Get(c.Request().Context(), param(c, "name"))
	if err != nil {
		return operationError(err)
	}
	return c.JSON(http.StatusOK, operationView(r))
}

// putOperation creates or replaces the rule the path names.
func (s *server) putOperation(c echo.Context) error {
	r, err := decodeOperation(c, s.cfg.BodyLimit, param(c, "name"))
	if err != nil {
		return err
	}
	stored, created, err := s.operationsAs(c).Put(c.Request().Context(), r)
	if err != nil {
		return operationError(err)
	}
	if created {
		c.Response().Header().Set(echo.HeaderLocation, "/v1/admin/operations/"+url.PathEscape(stored.Name))
		return c.JSON(http.StatusCreated, operationView(stored))
	}
	return c.JSON(http.StatusOK, operationView(stored))
}

func (s *server) deleteOperation(c echo.Context) error {
	if _, err := s.operationsAs(c).Delete(c.Request().Context(), param(c, "name")); err != nil {
		return operationError(err)
	}
	return c.NoContent(http.StatusNoContent)
}
